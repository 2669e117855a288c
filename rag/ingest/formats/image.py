"""Images of pages (a scan, a photographed page, a fax's multi-page TIFF): their text by OCR.

Each frame is a page; the text is rebuilt into paragraphs in reading order (formats/ocr/), with
`page_starts` and every line's box in pixels.
"""

from __future__ import annotations

from rag.config import Limits
from rag.ingest.formats.base import Decode, Extracted

SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def read(data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted:
    from rag.ingest.formats.ocr import image_pages, pages_text  # numpy, Pillow: only when an image comes

    total, pages = image_pages(data)
    return pages_text(pages, total, limits)
