"""Scanned pages: the part of each recognised (OCR) line a quote covers, and image files (a scan,
a photographed page, each frame of a TIFF) shown as a PNG with those parts highlighted.

OCR keeps one box per line, not per character (`Document.line_boxes`). A line quoted only in part
is highlighted over the proportional part of its box by character position: characters [a, b) of
a line of n characters cover x0 + (x1 − x0)·a/n … x0 + (x1 − x0)·b/n, the line's full height.
Chinese type is set on a fixed pitch, so the edge lands within about half a character of the
printed one; a line of mixed Latin and Chinese, whose characters differ in width, can be off by
more. A whole line quoted is its box exactly.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from rag.errors import DocumentError
from rag.source_view.errors import SpanError
from rag.source_view.pdf_page import DEFAULT_DPI, MAX_DPI, MAX_PIXELS, Box, PageImage, highlighted_png
from rag.types import LineBox

A4_INCHES = (210 / 25.4, 297 / 25.4)


def quote_parts(lines: Sequence[LineBox], start: int, end: int) -> list[Box]:
    """The parts of the lines' boxes that hold the document's text [start, end): left, top, right,
    bottom in the boxes' own unit, one per line the quote touches, in text order.

    >>> line = LineBox(1, 100.0, 50.0, 300.0, 70.0, start=10, end=20)
    >>> quote_parts([line], 12, 15)
    [(140.0, 50.0, 200.0, 70.0)]
    """
    parts: list[Box] = []
    for line in lines:
        a, b = max(start, line.start), min(end, line.end)
        if a >= b or line.end <= line.start:
            continue
        per_char = (line.x1 - line.x0) / (line.end - line.start)
        parts.append((line.x0 + per_char * (a - line.start), line.y0, line.x0 + per_char * (b - line.start), line.y1))
    return parts


def image_png(data: bytes, page_number: int, parts: Sequence[Box] | None = None, dpi: int = DEFAULT_DPI, max_pixels: int = MAX_PIXELS) -> PageImage:
    """Frame `page_number` (1-based) of an image file as a PNG, with `parts` (the quote's parts of
    its OCR lines, in the file's pixels as OCR measured them, EXIF orientation applied) highlighted;
    `parts` None: its lines are not known (indexed before they were kept), nothing highlighted.

    The size is bounded like a PDF page's: at most the pixels of an A4 page at `dpi` (≤ MAX_DPI),
    and at most `max_pixels`; the image is shown smaller, never larger, than the file.
    """
    from PIL import Image, ImageOps

    from rag.ingest.formats.ocr.render import MAX_PIXELS as MAX_FILE_PIXELS

    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        frames = getattr(image, "n_frames", 1)
    except Exception as exc:  # Pillow's errors on a damaged file are of several types
        raise DocumentError(f"图片已损坏或无法读取 / damaged or unreadable image ({type(exc).__name__})") from None
    if not 1 <= page_number <= frames:
        raise SpanError(f"图片没有第 {page_number} 页 / the image has no page {page_number} (it has {frames})")
    if width * height > MAX_FILE_PIXELS:  # indexing refused it already; a file swapped in is refused again
        raise DocumentError(f"图片过大：{width}×{height} 像素 / image too large")
    wanted = min(dpi, MAX_DPI)
    budget = min(max_pixels, wanted * A4_INCHES[0] * wanted * A4_INCHES[1])
    shrink = min(1.0, math.sqrt(budget / max(1, width * height)))
    try:
        image.seek(page_number - 1)
        image.draft("RGB", (math.ceil(width * shrink), math.ceil(height * shrink)))  # a large JPEG decoded smaller
        shown = ImageOps.exif_transpose(image.convert("RGB"))  # as OCR saw it (rag/ingest/formats/ocr/render.py)
    except Exception as exc:
        raise DocumentError(f"图片已损坏或无法读取 / damaged or unreadable image ({type(exc).__name__})") from None
    decoded = max(width, height) / max(shown.size)  # > 1 where the draft decoded it smaller
    target = (max(1, round(shown.width * decoded * shrink)), max(1, round(shown.height * decoded * shrink)))
    if target[0] < shown.width:
        shown = shown.resize(target, Image.Resampling.LANCZOS)
    scale = max(shown.size) / max(width, height)  # pixels shown per pixel of the file (OCR's unit)
    pixels = tuple((left * scale, top * scale, right * scale, bottom * scale) for left, top, right, bottom in parts or ())
    png = highlighted_png(shown, pixels)
    return PageImage(png, page_number, scale, shown.width, shown.height, (), (), pixels, has_text=False, ocr=parts is not None)
