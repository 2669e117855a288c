"""Pages to text: each page either keeps the text it has (a PDF page with a text layer) or is
recognised (a scan), one at a time, with progress logged per page.

Each recognised page is logged (INFO, logger `rag.ocr`). A page that fails is left empty and the
rest are indexed, with one warning (`Extracted.warnings`, logged by the loader with the file's
name) saying how many failed and the first reason; only when no page yields any text is the file
refused, with that reason. A missing OCR engine is such a reason, in
one sentence.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Iterable

import numpy as np

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats.base import Extracted, too_much_text
from rag.ingest.formats.ocr.engine import OcrEngine, OcrLine, OcrUnavailable
from rag.ingest.formats.ocr.factory import open_engine
from rag.ingest.formats.ocr.layout import read_page
from rag.ingest.formats.ocr.render import PageSource
from rag.types import LineBox

log = logging.getLogger("rag.ocr")

PAGE_BREAK = "\n\n"
UPSIDE_DOWN_BELOW = 0.75  # mean line score under which a page is read again turned 180°


def upright_lines(engine: OcrEngine, pixels: np.ndarray) -> tuple[list[OcrLine], bool]:
    """The page's lines, and whether the page had to be turned 180° to read them: a page fed
    upside down reads as confident-looking nonsense of low scores (mean ≈ 0.6 against ≈ 0.98), so
    below UPSIDE_DOWN_BELOW it is read again turned, and the better reading is kept."""
    lines = engine.recognise(pixels)
    score = statistics.fmean(line.score for line in lines) if lines else 1.0
    if score >= UPSIDE_DOWN_BELOW or len(lines) < 3:
        return lines, False
    turned = engine.recognise(np.ascontiguousarray(pixels[::-1, ::-1]))
    if turned and statistics.fmean(line.score for line in turned) > score:
        return turned, True
    return lines, False


def recognise(source: PageSource, page: int, engine: OcrEngine) -> tuple[str, list[LineBox]]:
    """One page's text (a paragraph a line) and the boxes of its lines, offsets relative to it."""
    image = source()
    lines, turned = upright_lines(engine, image.pixels)
    height, width = image.pixels.shape[:2]
    k = image.unit_per_pixel
    del image  # one page's pixels at a time
    paragraphs = read_page(lines)
    text, boxes = "", []
    for para in paragraphs:
        if text:
            text += "\n"
        base = len(text)
        for placed, (start, end) in zip(para.parts, para.spans):
            x0, y0, x1, y1 = placed.bounds
            if turned:  # back to the page as it lies in the file
                x0, y0, x1, y1 = width - x1, height - y1, width - x0, height - y0
            boxes.append(LineBox(page, round(x0 * k, 1), round(y0 * k, 1), round(x1 * k, 1), round(y1 * k, 1), base + start, base + end))
        text += para.text
    return text, boxes


def pages_text(pages: Iterable[str | PageSource], total: int, limits: Limits, engine: OcrEngine | None = None) -> Extracted:
    """The text of `total` pages in order: a str is a page's own text, a PageSource a page to
    recognise. Pages are separated by a blank line; `page_starts` and `line_boxes` say where each
    page and each recognised line is."""
    chunks: list[str] = []
    starts: list[int] = []
    boxes: list[LineBox] = []
    failures: list[str] = []
    pos = 0
    unavailable: OcrUnavailable | None = None
    for number, page in enumerate(pages, 1):
        content, page_boxes = (page if isinstance(page, str) else ""), list[LineBox]()
        if unavailable is not None and not isinstance(page, str):
            failures.append(str(unavailable))
        elif not isinstance(page, str):
            began = time.perf_counter()
            try:
                engine = engine or open_engine()
                content, page_boxes = recognise(page, number, engine)
            except OcrUnavailable as exc:
                unavailable = exc
                failures.append(str(exc))
            except Exception as exc:  # one bad page (a broken image stream, an engine error) loses only itself
                failures.append(f"第 {number} 页无法识别 / page {number} failed ({type(exc).__name__}: {exc})")
                log.info("OCR page %d/%d failed: %s", number, total, exc)
            else:
                log.info("OCR page %d/%d: %d characters in %.1f s", number, total, len(content), time.perf_counter() - began)
        content = content.strip("\n")
        starts.append(pos)
        boxes.extend(LineBox(b.page, b.x0, b.y0, b.x1, b.y1, b.start + pos, b.end + pos) for b in page_boxes)
        chunks.append(content + PAGE_BREAK)
        pos += len(chunks[-1])
        if pos > limits.text_chars:
            raise too_much_text(limits)
    text = "".join(chunks)
    if not text.strip():
        if failures:
            raise DocumentError(failures[0])
        raise DocumentError("没有识别出文字（空白页？） / no text recognised (blank pages?)")
    warnings: tuple[str, ...] = ()
    if failures:  # the file is indexed without them: say so once (the loader adds the file's name)
        warnings = (f"{len(failures)} of {total} pages not recognised, the rest indexed: {failures[0]}",)
    return Extracted(text, tuple(starts), line_boxes=tuple(boxes), warnings=warnings)
