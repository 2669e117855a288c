"""The text around a cited span: what the source view shows for every format (and, for PDFs, beside
the page image). Offsets are those of `Document.text`, as in every citation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.source_view.errors import SpanError
from rag.types import Chunk, Document

CONTEXT_CHARS = 300  # characters shown on each side of the quote


@dataclass(frozen=True)
class Excerpt:
    doc_id: str
    title: str
    metadata: tuple[tuple[str, str], ...]
    heading_path: tuple[str, ...]  # the headings above the quote ("" parts never)
    page: int | None  # 1-based, PDFs only
    text: str  # document.text[text_start : text_start + len(text)]
    text_start: int
    quote_start: int  # the quote's offsets inside `text`
    quote_end: int
    start: int  # the quote's offsets in the document, as cited
    end: int

    @property
    def quote(self) -> str:
        return self.text[self.quote_start : self.quote_end]

    @property
    def heading(self) -> str:
        return " / ".join(self.heading_path)

    def marked(self, left: str = "【", right: str = "】") -> str:
        """The excerpt with the quote between marks: `…前文【引文】后文…`."""
        return self.text[: self.quote_start] + left + self.quote + right + self.text[self.quote_end :]


def check_span(document: Document, start: int, end: int) -> None:
    """The span is a non-empty slice inside the document (SpanError otherwise)."""
    if not (0 <= start < end <= len(document.text)):
        raise SpanError(f"引用位置超出文档范围 / offsets {start}–{end} are outside the document '{document.doc_id}' (0–{len(document.text)})")


def heading_path_at(chunks: Sequence[Chunk], doc_id: str, offset: int) -> tuple[str, ...]:
    """The heading path of the last of the document's chunks that begins at or before `offset` and
    holds it (chunks overlap; the later one is the more specific section)."""
    found: tuple[str, ...] = ()
    for chunk in chunks:
        if chunk.doc_id == doc_id and chunk.start <= offset < chunk.end:
            found = chunk.heading_path
    return found


def excerpt(document: Document, start: int, end: int, context_chars: int = CONTEXT_CHARS, chunks: Sequence[Chunk] = ()) -> Excerpt:
    """The text around [start, end) with the quote's offsets inside it.

    >>> from rag.types import Document
    >>> e = excerpt(Document("a.txt", "A", "一二三四五六七", "h"), 3, 5, context_chars=2)
    >>> e.marked()
    '二三【四五】六七'
    """
    check_span(document, start, end)
    context_chars = max(0, context_chars)
    text_start = max(0, start - context_chars)
    text_end = min(len(document.text), end + context_chars)
    return Excerpt(
        doc_id=document.doc_id,
        title=document.title,
        metadata=document.metadata,
        heading_path=tuple(h for h in heading_path_at(chunks, document.doc_id, start) if h),
        page=document.page_of(start),
        text=document.text[text_start:text_end],
        text_start=text_start,
        quote_start=start - text_start,
        quote_end=end - text_start,
        start=start,
        end=end,
    )


def page_span(document: Document, page: int) -> tuple[int, int]:
    """[start, end) of a PDF page's text in `document.text` (1-based page)."""
    starts = document.page_starts
    return starts[page - 1], starts[page] if page < len(starts) else len(document.text)
