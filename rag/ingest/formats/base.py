"""What every format family shares: the Extracted result, the reader's signature, the text-length
limit and tables as lines of text.

It sits below the format modules (and the package's `extract()`) so that they can share it without
importing the package that imports them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rag.config import Limits
from rag.errors import DocumentError
from rag.types import LineBox  # where an OCR'd line lies (rag/types.py: Document keeps them too)

Decode = Callable[[bytes], str]  # bytes → str for plain-text formats (encoding.decode_bytes)


@dataclass(frozen=True)
class Extracted:
    """The text that becomes `Document.text` (all offsets refer to it) and, for PDFs, images, OFD
    pages and slides, where each page starts, so citations can name the page; for recognised (OCR'd) pages, where
    each line lies on its page."""

    text: str
    page_starts: tuple[int, ...] = ()  # offset where page 1, 2, … begins (PDFs, images, OFD pages, slides)
    is_markdown: bool = False
    line_boxes: tuple[LineBox, ...] = ()  # OCR'd lines only, in text order
    warnings: tuple[str, ...] = ()  # what was left out of a file that was read all the same (pages OCR could not read)


class Reader(Protocol):
    """One format family's reader: the file's bytes, its (lower-case) suffix, the decoder for text
    formats and the limits on what it may expand to."""

    def __call__(self, data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted: ...


def too_much_text(limits: Limits) -> DocumentError:
    return DocumentError(f"文本过长：提取出的文字超过 {limits.text_chars:,} 字（RAG_MAX_TEXT_CHARS） / extracted text exceeds {limits.text_chars:,} characters")


def within_limit(text: str, limits: Limits) -> str:
    """The text, or DocumentError when it is longer than `limits.text_chars`."""
    if len(text) > limits.text_chars:
        raise too_much_text(limits)
    return text


def table_rows_as_text(rows: list[list[str]]) -> list[str]:
    """First row is the header; each later row becomes `header：cell；header：cell`. A table whose rows
    hold one cell each lays out a page, not data: its cells are lines of text. A table whose every
    other cell is a label ending in a colon is a form: `label：value` pairs."""
    rows = [[re.sub(r"\s+", " ", c).strip() for c in row] for row in rows if any(c.strip() for c in row)]
    if len(rows) < 2 or all(sum(1 for c in row if c) <= 1 for row in rows):
        return ["；".join(c for c in row if c) for row in rows]
    if all(len(row) % 2 == 0 and all(k.endswith(("：", ":")) for k in row[::2]) for row in rows):
        # a form of labels and values (`索引号：| FJ…| 文号：| 闽工信…`): label-value pairs, no header
        return ["；".join(f"{k}{v}" for k, v in zip(row[::2], row[1::2])) for row in rows]
    header, out = rows[0], []
    for row in rows[1:]:
        cells = [f"{h}：{c}" if h else c for h, c in zip(header + [""] * len(row), row) if c]
        out.append("；".join(cells))
    return out
