"""Text of a fixed-layout page (OFD) from positioned runs: reading order, lines, paragraphs.

A fixed-layout page says where each glyph goes, not which line or paragraph it belongs to, nor in
which order its blocks are read. `page_paragraphs` puts it back:

1. **Blocks in reading order** by recursive XY-cut: a page is cut at empty vertical bands into
   columns when every side reads like a column of text (three lines or more, lines of six
   characters or more; a form's labels and values, or a table's cells, do not, so they stay in
   rows), else at empty horizontal bands taller than 1.2 × the font size (taller than the leading
   of body text, so a paragraph stays one block), top to bottom.
2. **Lines** in a block: runs whose baselines lie within a third of the font size, left to right;
   a gap wider than 1.5 × the font size (a form's label and value, a table's cells) becomes a space.
3. **Paragraphs**: a line starts a new one when it is indented from the block's left edge, when the
   line before ended short of the right edge, after a gap wider than 1.6 × the line pitch or when
   the font size changes, and a line of cells (a form's, a table's) stands alone; lines of a paragraph are joined without a break (Chinese needs no space),
   so sentences come out whole. Lines that are only a page number (`— 1 —`, `30`) are dropped.

Sizes are in the page's own units (OFD: millimetres); every threshold is relative to the font size.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass

_PAGE_NUMBER = re.compile(r"^[—–\-－\s]*\d{1,4}[—–\-－\s]*$")
_SENTENCE_END = tuple("。！？；：…”’」』）)!?;:.")


@dataclass(frozen=True)
class Run:
    """Text set on one baseline from `x0` to `x1`; `baseline` grows downwards (OFD, PDF turned)."""

    text: str
    x0: float
    x1: float
    baseline: float
    size: float

    @property
    def top(self) -> float:
        return self.baseline - 0.88 * self.size

    @property
    def bottom(self) -> float:
        return self.baseline + 0.12 * self.size


@dataclass(frozen=True)
class Paragraph:
    text: str
    runs_on: bool = False  # its last line reaches the right edge without ending a sentence


@dataclass(frozen=True)
class _Line:
    text: str
    x0: float
    x1: float
    baseline: float
    size: float
    cells: int = 1  # pieces set apart by wide gaps: a form's label and value, a table's cells


def _bands(runs: list[Run], lo: Callable[[Run], float], hi: Callable[[Run], float], min_gap: float) -> list[list[Run]]:
    """Runs split where an empty band at least `min_gap` wide crosses them all, in order along the axis."""
    items = sorted(runs, key=lo)
    groups, reach = [[items[0]]], hi(items[0])
    for run in items[1:]:
        if lo(run) - reach >= min_gap:
            groups.append([run])
        else:
            groups[-1].append(run)
        reach = max(reach, hi(run))
    return groups


def _lines(runs: list[Run]) -> list[_Line]:
    rows: list[list[Run]] = []
    for run in sorted(runs, key=lambda r: r.baseline):
        if rows and abs(run.baseline - rows[-1][0].baseline) <= max(run.size, rows[-1][0].size) / 3:
            rows[-1].append(run)
        else:
            rows.append([run])
    lines = []
    for row in rows:
        row.sort(key=lambda r: r.x0)
        text, x1, cells = "", row[0].x0, 1
        for run in row:
            gap = run.x0 - x1
            if text and gap > 1.5 * run.size:
                text, cells = text.rstrip() + " ", cells + 1
            elif text and gap > 0.2 * run.size and text[-1].isascii() and text[-1].isalnum() and run.text[:1].isascii():
                text = text.rstrip() + " "
            text += run.text
            x1 = max(x1, run.x1)
        size = statistics.median(r.size for r in row)
        lines.append(_Line(re.sub(r"\s+", " ", text).strip(), row[0].x0, x1, row[0].baseline, size, cells))
    return [line for line in lines if line.text]


def _is_text_column(runs: list[Run]) -> bool:
    lines = _lines(runs)
    return len(lines) >= 3 and statistics.median(len(line.text) for line in lines) >= 6


def _blocks(runs: list[Run], depth: int = 0) -> list[list[Run]]:
    """The page's runs as blocks in reading order (recursive XY-cut)."""
    if depth > 40 or len(runs) < 2:
        return [runs]
    size = statistics.median(r.size for r in runs)
    columns = _bands(runs, lambda r: r.x0, lambda r: r.x1, size)
    if len(columns) > 1 and all(_is_text_column(c) for c in columns):
        return [block for column in columns for block in _blocks(column, depth + 1)]
    rows = _bands(runs, lambda r: r.top, lambda r: r.bottom, 1.2 * size)
    if len(rows) > 1:
        return [block for row in rows for block in _blocks(row, depth + 1)]
    return [runs]


def _joined(head: str, tail: str) -> str:
    """Two lines of one paragraph: no space between Chinese, one between Latin words."""
    if head[-1:].isascii() and head[-1:].isalnum() and tail[:1].isascii() and tail[:1].isalnum():
        return head + " " + tail
    return head + tail


def _paragraphs(lines: list[_Line]) -> list[Paragraph]:
    left, right = min(line.x0 for line in lines), max(line.x1 for line in lines)
    steps = [b.baseline - a.baseline for a, b in zip(lines, lines[1:])]
    pitch = statistics.median(steps) if steps else 0.0
    out: list[str] = []
    for i, line in enumerate(lines):
        prev = lines[i - 1] if i else None
        starts = (
            prev is None
            or abs(line.size - prev.size) > 0.15 * prev.size
            or (pitch > 0 and line.baseline - prev.baseline > 1.6 * pitch)
            or line.x0 - left > 0.8 * line.size
            or right - prev.x1 > 1.5 * prev.size
            or line.cells > 1
            or prev.cells > 1
        )
        if starts:
            out.append(line.text)
        else:
            out[-1] = _joined(out[-1], line.text)
    last = lines[-1]
    runs_on = len(lines) > 1 and right - last.x1 <= 1.5 * last.size and not out[-1].endswith(_SENTENCE_END)
    return [Paragraph(text, runs_on=runs_on and i == len(out) - 1) for i, text in enumerate(out)]


def page_paragraphs(runs: list[Run]) -> list[Paragraph]:
    """A page's paragraphs in reading order (see the module's docstring)."""
    runs = [r for r in runs if r.text.strip() and r.size > 0]
    if not runs:
        return []
    paragraphs = [p for block in _blocks(runs) for p in _paragraphs(_lines(block))]
    return [p for p in paragraphs if not _PAGE_NUMBER.match(p.text)]
