"""Which OCR engine runs: one per process, loaded on first use (loading the models takes a second
and a few hundred MB). RapidOCR is the one implementation today; another goes beside `rapid.py`
and is chosen here."""

from __future__ import annotations

from rag.ingest.formats.ocr.engine import OcrEngine

_ENGINE: OcrEngine | None = None


def open_engine() -> OcrEngine:
    """The process's OCR engine (RapidOCR), or OcrUnavailable saying what to install."""
    global _ENGINE
    if _ENGINE is None:
        from rag.ingest.formats.ocr.rapid import RapidOcrEngine

        _ENGINE = RapidOcrEngine()
    return _ENGINE
