"""The OCR engine interface: an image in, recognised lines with their corner points out.

One implementation per file beside this one (`rapid.py`: RapidOCR's PP-OCR models on ONNX Runtime);
`factory.open_engine` picks it and keeps one per process, since loading the models takes a second
and hundreds of MB. Nothing here downloads anything: an engine whose package or models are missing is
refused with one sentence (a DocumentError), never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from rag.errors import DocumentError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class OcrLine:
    """One run of text the engine found: its text, confidence (0–1) and the four corners of its
    box in the image's pixels, clockwise from the top left (a skewed line has a skewed box)."""

    text: str
    score: float
    corners: tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


class OcrEngine(Protocol):
    """Recognises the text of one page image (H×W×3 uint8, RGB)."""

    name: str

    def recognise(self, image: np.ndarray) -> list[OcrLine]: ...


class OcrUnavailable(DocumentError):
    """No OCR engine can run here (its package or models are missing); the message says what to install."""
