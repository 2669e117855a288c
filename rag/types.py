"""Value objects passed between the stages: Document → Chunk → Passage → Answer (with Citations).

Offsets are always character offsets into `Document.text`, the text exactly as loaded, so that
`document.text[chunk.start:chunk.end] == chunk.text` and every quote is a real slice of its source.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LineBox:
    """Where one recognised (OCR) line lies: its page (1-based), its box from the page's top-left
    corner — in PDF points (1/72 inch) on a PDF page, in pixels on an image — and its span
    `text[start:end]` in the document's text."""

    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    start: int
    end: int


@dataclass(frozen=True)
class LineBoxes:
    """A document's OCR line boxes, packed: seven int32 a line (page, start, end, then x0 y0 x1 y1
    in tenths of the page's unit), 28 bytes a line rather than ~250 as objects — a 300-page scan has
    some 10,000 lines, and every document of a knowledge base is held in memory. Lines in text order.

    >>> boxes = LineBoxes.of([LineBox(1, 10.0, 20.0, 300.5, 40.0, 0, 12)])
    >>> len(boxes), boxes.on_page(1)[0].x1, boxes.on_page(2)
    (1, 300.5, [])
    """

    packed: bytes = b""

    @classmethod
    def of(cls, boxes: Iterable[LineBox]) -> "LineBoxes":
        ints = array("i")
        for b in boxes:
            ints.extend((b.page, b.start, b.end, round(b.x0 * 10), round(b.y0 * 10), round(b.x1 * 10), round(b.y1 * 10)))
        return cls(ints.tobytes())

    def __len__(self) -> int:
        return len(self.packed) // 28

    def __iter__(self) -> Iterator[LineBox]:
        ints = array("i", self.packed)
        for i in range(0, len(ints), 7):
            page, start, end, x0, y0, x1, y1 = ints[i : i + 7]
            yield LineBox(page, x0 / 10, y0 / 10, x1 / 10, y1 / 10, start, end)

    def on_page(self, page: int) -> list[LineBox]:
        return [b for b in self if b.page == page]


@dataclass(frozen=True)
class Document:
    doc_id: str  # path relative to the folder it was indexed from, with "/" separators
    title: str
    text: str
    content_hash: str  # sha256 of the file's bytes
    metadata: tuple[tuple[str, str], ...] = ()  # header fields such as ("文号", "闽工信提案〔2024〕30号")
    # spans of `text` that hold the body; boilerplate outside them (page furniture) is not indexed
    body_spans: tuple[tuple[int, int], ...] = ()
    page_starts: tuple[int, ...] = ()  # PDFs, images, OFD, slides: offset where each page begins
    line_boxes: LineBoxes = LineBoxes()  # recognised (OCR'd) pages: where each line lies on its page

    @property
    def meta(self) -> dict[str, str]:
        return dict(self.metadata)

    def page_of(self, offset: int) -> int | None:
        """1-based page holding `offset`, or None for documents without pages."""
        if not self.page_starts:
            return None
        return sum(1 for start in self.page_starts if start <= offset) or 1


@dataclass(frozen=True)
class Chunk:
    chunk_id: str  # "<doc_id>#<n>", stable while the document is unchanged
    doc_id: str
    start: int
    end: int
    # the whole text of the chunk's document, shared, not copied: a corpus is held in memory once,
    # however many (overlapping) chunks it has
    source: str = field(repr=False, compare=False)
    heading_path: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return self.source[self.start : self.end]

    @property
    def heading(self) -> str:
        return " / ".join(self.heading_path)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with the scores that ranked it."""

    chunk: Chunk
    score: float  # fused score, higher is better (min-max fusion: below 0 when a retriever ranks it below its top n)
    dense_score: float | None = None  # cosine similarity to the query
    lexical_score: float | None = None  # BM25
    rank: int = 0


@dataclass(frozen=True)
class Citation:
    number: int  # the [n] mark in the answer text
    doc_id: str
    title: str
    heading: str
    quote: str  # == document.text[start:end]
    start: int
    end: int
    passage: Passage
    metadata: tuple[tuple[str, str], ...] = ()
    page: int | None = None
    # "document": a quote of an indexed document; "faq": an entry of the knowledge base's curated
    # questions and answers (rag/faq): doc_id "faq#<id>", title its question, quote its whole answer
    kind: str = "document"


@dataclass(frozen=True)
class AnswerSentence:
    text: str  # the sentence as it stands in the document
    citation: int  # number of its citation
    span: str  # the most specific part of it that answers (a clause or phrase; may equal text)
    score: float
    span_start: int = -1  # where the span stands in the sentence (-1: not known)

    def narrower_span(self) -> tuple[int, int] | None:
        """(start, end) of the span in the sentence when it is narrower than the sentence itself
        (less than the sentence without its closing punctuation), else None."""
        if not self.span or self.span_start < 0 or self.text[self.span_start : self.span_start + len(self.span)] != self.span:
            return None
        whole = self.text.strip().rstrip("。！？；!?;，,")
        if self.span.strip().rstrip("。！？；!?;，,") == whole:
            return None
        return self.span_start, self.span_start + len(self.span)


@dataclass(frozen=True)
class Suggestion:
    """An FAQ entry offered as 您是否想问 (close to the question, below the answer threshold: rag/faq)."""

    faq_id: int
    question: str  # the entry's question


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # what the user reads, with [n] marks
    refused: bool
    citations: tuple[Citation, ...] = ()
    sentences: tuple[AnswerSentence, ...] = ()
    passages: tuple[Passage, ...] = ()  # what retrieval returned (shown as "nearest" on refusal)
    notice: str = ""  # e.g. that a long question was truncated
    confidence: float = 0.0
    suggestions: tuple[Suggestion, ...] = ()  # FAQ entries near the question that did not reach the answer threshold

    @property
    def span(self) -> str:
        """The most specific answering phrase of the best sentence ("" when refused)."""
        return self.sentences[0].span if self.sentences else ""


@dataclass(frozen=True)
class SearchResult:
    question: str
    passages: tuple[Passage, ...] = field(default_factory=tuple)
