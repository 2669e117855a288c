"""The encoder contract: what the Embedder needs from a backend that turns texts into vectors."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Encoder(Protocol):
    """Encodes texts, the e5 prompt ("query: " or "passage: ") already in front, into L2-normalised
    float32 rows. `name` says how ("torch-float32", "onnx-int8-dynamic-per-channel"): it is recorded
    in the index manifest."""

    @property
    def name(self) -> str: ...
    @property
    def dimension(self) -> int: ...
    @property
    def max_tokens(self) -> int: ...
    @property
    def prompts(self) -> dict[str, str]: ...  # "query" / "passage" -> the text put in front

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray: ...
