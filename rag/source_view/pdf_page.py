"""A PDF page rendered as a PNG with the quoted characters highlighted.

The character boxes come from PDFium's text page (pypdfium2). The quote's offsets are offsets into
`Document.text`, which pypdf extracted page by page (rag/ingest/formats/pdf.py); PDFium orders and
spaces a page's characters its own way, so offsets cannot be carried over one to one. Instead the
quote is found in PDFium's characters with whitespace removed on both sides (pypdf and PDFium differ
mostly in the spaces and line breaks they put between runs), taking the same occurrence as the
quote's in pypdf's page text (the third "本办法" stays the third). Boxes are those of the matched
characters, in PDF points; the drawing merges the boxes of one line into one rectangle.

A scanned page has no text layer: what is highlighted there is the quoted part of each recognised
line's box (`ocr_parts`, from the document's OCR line boxes: scan_page.quote_parts).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.errors import DocumentError
from rag.source_view.errors import OriginalUnavailableError, SpanError

if TYPE_CHECKING:
    from PIL import Image as PILImage

MAX_DPI = 150
DEFAULT_DPI = 110
MAX_PIXELS = 4_000_000  # a poster-sized page is rendered smaller rather than at the asked dpi
HIGHLIGHT = (255, 213, 0, 96)  # translucent yellow, RGBA

Box = tuple[float, float, float, float]  # left, bottom, right, top in PDF points (origin bottom left)


@dataclass(frozen=True)
class PageImage:
    png: bytes
    page: int  # 1-based
    scale: float  # pixels per PDF point (an image file: pixels shown per pixel of the file)
    width: int  # pixels
    height: int
    boxes: tuple[Box, ...]  # one per highlighted character (PDFium's loose character boxes)
    char_indices: tuple[int, ...]  # those characters' indices in PDFium's text page
    # what is highlighted, in the image's pixels: left, top, right, bottom (origin top left); the
    # characters' boxes above, or for a scan (`ocr`) the quoted part of each recognised line
    pixel_boxes: tuple[Box, ...] = ()
    has_text: bool = True  # False: the page has no text layer (a scan or an image file)
    ocr: bool = False  # the page's recognised lines are known: the highlight is of their boxes


def _open(pdf_bytes: bytes) -> Any:
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(pdf_bytes)
    except Exception as exc:  # PDFium's errors on a damaged file are of several types
        raise DocumentError(f"PDF 已损坏或无法渲染 / damaged PDF, cannot render ({type(exc).__name__})") from None


def page_chars(textpage: Any) -> list[str]:
    """Every character of a PDFium text page, by index (what `get_charbox` indexes)."""
    import pypdfium2.raw as pdfium_c

    return [chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i)) for i in range(textpage.count_chars())]


def _occurrence(haystack: str, needle: str, before: int) -> int:
    """How many times `needle` occurs in haystack[:before] (0: the match is the first)."""
    count, at = 0, haystack.find(needle)
    while 0 <= at < before:
        count += 1
        at = haystack.find(needle, at + 1)
    return count


def match_quote(chars: list[str], page_text: str, start: int, end: int) -> list[int]:
    """The indices of PDFium's characters that are the quote page_text[start:end] (pypdf's page
    text), whitespace ignored; [] when the quote is not found on the page."""
    quote = "".join(page_text[start:end].split())
    if not quote:
        return []
    kept = [i for i, ch in enumerate(chars) if not ch.isspace() and ch not in "\x00\ufffe\uffff"]
    flat = "".join(chars[i] for i in kept)
    nth = _occurrence("".join(page_text.split()), quote, len("".join(page_text[:start].split())))
    hits, at = [], flat.find(quote)
    while at >= 0:
        hits.append(at)
        at = flat.find(quote, at + 1)
    if not hits:
        return []
    first = hits[min(nth, len(hits) - 1)]
    return kept[first : first + len(quote)]


def line_rectangles(boxes: list[Box]) -> list[Box]:
    """Consecutive character boxes on one line (vertical overlap) merged into one rectangle."""
    merged: list[Box] = []
    for left, bottom, right, top in boxes:
        if merged:
            ml, mb, mr, mt = merged[-1]
            overlap = min(top, mt) - max(bottom, mb)
            if overlap > 0.5 * min(top - bottom, mt - mb) and left >= ml - 1:
                merged[-1] = (ml, min(mb, bottom), max(mr, right), max(mt, top))
                continue
        merged.append((left, bottom, right, top))
    return merged


def highlighted_png(image: PILImage.Image, rectangles: Sequence[Box]) -> bytes:
    """The image as a PNG with the rectangles (pixels: left, top, right, bottom) tinted yellow."""
    from PIL import Image, ImageDraw

    image = image.convert("RGBA")
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for rectangle in rectangles:
        draw.rectangle(rectangle, fill=HIGHLIGHT)
    out = io.BytesIO()
    Image.alpha_composite(image, overlay).convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def pdf_page_png(
    pdf_bytes: bytes,
    page_number: int,
    boxes_for: tuple[int, int] | None = None,
    page_text: str = "",
    dpi: int = DEFAULT_DPI,
    max_pixels: int = MAX_PIXELS,
    ocr_parts: Sequence[Box] | None = None,
) -> PageImage:
    """Page `page_number` (1-based) as a PNG, with the characters of page_text[boxes_for[0]:boxes_for[1]]
    highlighted (`page_text`: the document's text of that page, as pypdf extracted it); on a
    recognised (scanned) page, `ocr_parts` instead: the quoted parts of its lines, in points from
    the rendered page's top left (left, top, right, bottom), as OCR measured them on this render.

    The size is bounded: at most `MAX_DPI`, and at most `max_pixels` pixels whatever the page size.
    """
    pdf = _open(pdf_bytes)
    try:
        if not 1 <= page_number <= len(pdf):
            raise SpanError(f"PDF 没有第 {page_number} 页 / the PDF has no page {page_number} (it has {len(pdf)})")
        page = pdf[page_number - 1]
        width_pt, height_pt = page.get_size()
        crop_left, _, _, crop_top = page.get_cropbox()  # render() draws the crop box (page rotation is not handled yet)
        scale = min(min(dpi, MAX_DPI) / 72, math.sqrt(max_pixels / max(1.0, width_pt * height_pt)))
        indices: list[int] = []
        boxes: list[Box] = []
        has_text = ocr_parts is None
        if boxes_for is not None and ocr_parts is None:
            textpage = page.get_textpage()
            chars = page_chars(textpage)
            has_text = any(not ch.isspace() and ch not in "\x00\ufffe\uffff" for ch in chars)
            indices = match_quote(chars, page_text, *boxes_for)
            boxes = [tuple(textpage.get_charbox(i, loose=True)) for i in indices]
        image = page.render(scale=scale).to_pil()
    finally:
        pdf.close()
    if ocr_parts is not None:
        pixels = tuple((left * scale, top * scale, right * scale, bottom * scale) for left, top, right, bottom in ocr_parts)
        png = highlighted_png(image, pixels)
        return PageImage(png, page_number, scale, image.width, image.height, (), (), pixels, has_text=False, ocr=True)

    def in_pixels(box: Box) -> Box:
        left, bottom, right, top = box
        return ((left - crop_left) * scale, (crop_top - top) * scale, (right - crop_left) * scale, (crop_top - bottom) * scale)

    png = highlighted_png(image, [in_pixels(line) for line in line_rectangles(boxes)])
    pixels = tuple(in_pixels(box) for box in boxes)
    return PageImage(png, page_number, scale, image.width, image.height, tuple(boxes), tuple(indices), pixels, has_text)


def require_pdf(data: bytes, doc_id: str) -> None:
    if not data.startswith(b"%PDF"):
        raise OriginalUnavailableError(f"原文不是 PDF 或图片，无法显示页面图像 / the original of '{doc_id}' is not a PDF or an image: no page image")
