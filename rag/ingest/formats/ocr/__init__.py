"""OCR of scans: page images → recognised lines (an `OcrEngine`, RapidOCR today) → reading order and
paragraphs (`layout`) → text with page starts and line boxes (`pages`).

Used by the `image` format and by `pdf` for pages without a text layer.
"""

from __future__ import annotations

from rag.ingest.formats.ocr.engine import OcrEngine, OcrLine, OcrUnavailable
from rag.ingest.formats.ocr.factory import open_engine
from rag.ingest.formats.ocr.pages import pages_text
from rag.ingest.formats.ocr.render import PageImage, PageSource, image_pages, pdf_document, pdf_page, pdf_page_is_scan

__all__ = [
    "OcrEngine",
    "OcrLine",
    "OcrUnavailable",
    "PageImage",
    "PageSource",
    "image_pages",
    "open_engine",
    "pages_text",
    "pdf_document",
    "pdf_page",
    "pdf_page_is_scan",
]
