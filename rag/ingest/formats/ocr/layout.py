"""Recognised lines back into reading order and paragraphs, so that the header, heading and chunking
logic read an OCR'd page as they read typed text.

1. **Skew**: the median slope of the wider boxes is the page's skew; boxes are turned back by it, so
   a page scanned a few degrees askew still has lines one under the other.
2. **Order** (recursive XY-cut): a region splits into columns at a vertical gap when both sides hold
   lines of running text (a two-page spread, a two-column layout; a table's short cells are read row
   by row instead), else into bands at horizontal gaps; what cannot be cut is one row, read left to
   right. So: top to bottom, left to right, column by column.
3. **Paragraphs**: lines of one paragraph are joined (Chinese and digits: no space; between two
   Latin letters: one space). A new paragraph starts at an indented line (the two-character indent
   of Chinese prose), after a line that stops short of the column's right edge at the end of a
   sentence (or far short), at a numbered line (`二、`, `（一）`, `8.1.2`), or after a wider gap than
   the column's line spacing; a row of cells far apart (a table's row) is a line of its own.
   Centred lines (a title wrapped over two lines) are joined.

One paragraph per output line; each output line keeps the boxes of the recognised lines in it.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.ingest.formats.ocr.engine import OcrLine
from rag.ingest.headings import numbering_rank

_MAX_SKEW_DEGREES = 15.0


@dataclass(frozen=True)
class Placed:
    """A recognised line with its axis-aligned box after deskewing (x0, y0, x1, y1) and its box in
    the image as found (`bounds`, the corners' extent)."""

    line: OcrLine
    x0: float
    y0: float
    x1: float
    y1: float
    bounds: tuple[float, float, float, float]

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass(frozen=True)
class Paragraph:
    """One paragraph's text, the lines (in reading order) it was joined from, and where each of
    them lies in the text (`text[a:b] == part.line.text`)."""

    text: str
    parts: tuple[Placed, ...]
    spans: tuple[tuple[int, int], ...]


def skew_degrees(lines: Sequence[OcrLine]) -> float:
    """The page's skew: the median slope of the top edges of boxes at least three times as wide as
    high (short boxes give noisy slopes); 0 when there are none."""
    angles = []
    for line in lines:
        (ax, ay), (bx, by), _, (dx, dy) = line.corners
        width, height = math.hypot(bx - ax, by - ay), math.hypot(dx - ax, dy - ay)
        if width >= 3 * height > 0:
            angles.append(math.degrees(math.atan2(by - ay, bx - ax)))
    if not angles:
        return 0.0
    angle = statistics.median(angles)
    return angle if abs(angle) <= _MAX_SKEW_DEGREES else 0.0


def place(lines: Sequence[OcrLine]) -> list[Placed]:
    """The lines with their boxes turned back by the page's skew."""
    theta = math.radians(-skew_degrees(lines))
    cos, sin = math.cos(theta), math.sin(theta)
    placed = []
    for line in lines:
        xs = [x * cos - y * sin for x, y in line.corners]
        ys = [x * sin + y * cos for x, y in line.corners]
        raw_x, raw_y = [x for x, _ in line.corners], [y for _, y in line.corners]
        bounds = (min(raw_x), min(raw_y), max(raw_x), max(raw_y))
        placed.append(Placed(line, min(xs), min(ys), max(xs), max(ys), bounds))
    return placed


def _gaps(spans: list[tuple[float, float]], min_gap: float) -> list[float]:
    """Cut positions: the middles of the gaps at least `min_gap` wide in the union of the spans."""
    cuts, reach = [], None
    for a, b in sorted(spans):
        if reach is not None and a - reach >= min_gap:
            cuts.append((a + reach) / 2)
        reach = b if reach is None else max(reach, b)
    return cuts


def _split(items: list[Placed], cuts: list[float], key: Callable[[Placed], float]) -> list[list[Placed]]:
    parts: list[list[Placed]] = [[] for _ in range(len(cuts) + 1)]
    for item in items:
        parts[sum(1 for c in cuts if key(item) > c)].append(item)
    return [p for p in parts if p]


def _is_text_column(part: list[Placed], unit: float) -> bool:
    """Running text, not a table's cells: several rows, a quarter of its lines at least eight
    characters wide (formulas and numbering are short; a table's cells are all short)."""
    if len(part) < 2 or max(p.y1 for p in part) - min(p.y0 for p in part) < 2 * unit:
        return False
    widths = sorted(p.x1 - p.x0 for p in part)
    return widths[(3 * len(widths)) // 4] >= 8 * unit


def _rows(items: list[Placed], unit: float) -> list[list[Placed]]:
    """Boxes that could not be cut apart, grouped into rows by their centres, each left to right."""
    rows: list[list[Placed]] = []
    for item in sorted(items, key=lambda p: p.cy):
        if rows and abs(item.cy - statistics.fmean(p.cy for p in rows[-1])) <= 0.5 * unit:
            rows[-1].append(item)
        else:
            rows.append([item])
    return [sorted(row, key=lambda p: p.x0) for row in rows]


def _order(items: list[Placed], unit: float) -> list[list[list[Placed]]]:
    """Columns (a list of rows, each a list of boxes left to right) in reading order."""
    if len(items) <= 1:
        return [[items]] if items else []
    columns = _split(items, _gaps([(p.x0, p.x1) for p in items], 1.5 * unit), key=lambda p: p.x0)
    if len(columns) > 1 and all(_is_text_column(c, unit) for c in columns):
        return [col for part in columns for col in _order(part, unit)]
    # bands: gaps between the boxes' cores (detected boxes are padded, and overlap a little)
    pad = 0.2 * unit
    bands = _split(items, _gaps([(p.y0 + pad, p.y1 - pad) for p in items], 0.01), key=lambda p: p.cy)
    if len(bands) > 1:
        out: list[list[list[Placed]]] = []
        after_columns = True
        for band in bands:
            cols = _order(band, unit)
            if len(cols) == 1 and not after_columns:
                out[-1].extend(cols[0])  # the band goes on with the one above it
            else:
                out.extend(cols)
            after_columns = len(cols) > 1
        return out
    return [_rows(items, unit)]


_LATIN = re.compile(r"[A-Za-z]")
_ENDINGS = tuple("。！？：；!?:;")
_CLAUSE_NUMBER = re.compile(r"\d{1,2}(?:\.\d{1,2}){2,}(?![\d%])|\d{1,2}\.\d{1,2}\s")  # 7.4.2 or `8.1 ` of a standard, not 0.2个 or 3.5%


def _separator(text: str, prev: Placed | None, item: Placed, unit: float) -> str:
    """What goes between a paragraph's text so far and its next line: a space after a wide gap
    within a row or between two Latin letters across a line break, else nothing (Chinese, and a
    number broken over two lines, run on)."""
    if not text:
        return ""
    if prev is not None and item.x0 - prev.x1 >= 0.8 * unit:
        return " "
    return " " if _LATIN.match(text[-1]) and _LATIN.match(item.line.text[:1]) else ""


def _is_centred(row: list[Placed], left: float, right: float, unit: float) -> bool:
    indent, slack = row[0].x0 - left, right - row[-1].x1
    return indent >= 1.5 * unit and slack >= 1.5 * unit and abs(indent - slack) <= 2 * unit


def _is_cells(row: list[Placed], unit: float) -> bool:
    """Pieces of text far apart on one row: a table's cells, a form's label and value."""
    return any(b.x0 - a.x1 >= 2 * unit for a, b in zip(row, row[1:]))


def _starts_paragraph(column: list[list[Placed]], i: int, gaps: list[float], unit: float) -> bool:
    left, right = min(r[0].x0 for r in column), max(r[-1].x1 for r in column)
    row, prev = column[i], column[i - 1]
    usual_gap = statistics.median(gaps)
    wide_gap = gaps[i - 1] > max(0.8 * unit, 1.6 * usual_gap + 0.2 * unit)
    if _is_cells(row, unit) or _is_cells(prev, unit):
        return True  # a table's row (or a form's) is a line of its own
    if numbering_rank(row[0].line.text) is not None or _CLAUSE_NUMBER.match(row[0].line.text):
        return True  # `二、…`, `（一）…`, `8.1.2 …`: a heading or a numbered paragraph begins
    if _is_centred(row, left, right, unit) and _is_centred(prev, left, right, unit):
        return wide_gap  # a centred title over two lines is one paragraph
    # a line that stops short ends its paragraph when it ends a sentence or clearly stops early
    # (a header field, a signature), not when it is merely ragged (Latin and digits are narrower)
    slack = right - prev[-1].x1
    ended = slack >= 1.5 * unit and (prev[-1].line.text.endswith(_ENDINGS) or slack >= 0.3 * (right - left))
    return row[0].x0 - left >= 1.2 * unit or ended or wide_gap


def _paragraphs(column: list[list[Placed]], unit: float) -> list[Paragraph]:
    tops = [min(p.y0 for p in r) for r in column]
    bottoms = [max(p.y1 for p in r) for r in column]
    gaps = [t - b for b, t in zip(bottoms, tops[1:])]
    paragraphs: list[Paragraph] = []
    text, parts, spans = "", list[Placed](), list[tuple[int, int]]()
    for i, row in enumerate(column):
        if i and _starts_paragraph(column, i, gaps, unit):
            paragraphs.append(Paragraph(text, tuple(parts), tuple(spans)))
            text, parts, spans = "", [], []
        for j, item in enumerate(row):
            text += _separator(text, row[j - 1] if j else None, item, unit)
            spans.append((len(text), len(text) + len(item.line.text)))
            text += item.line.text
            parts.append(item)
    if text:
        paragraphs.append(Paragraph(text, tuple(parts), tuple(spans)))
    return paragraphs


def read_page(lines: Sequence[OcrLine]) -> list[Paragraph]:
    """A page's recognised lines as paragraphs in reading order."""
    placed = place(lines)
    if not placed:
        return []
    unit = statistics.median(p.height for p in placed)  # about one character: the line height
    return [para for column in _order(placed, unit) for para in _paragraphs(column, unit)]
