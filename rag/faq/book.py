"""The FAQ as the assistant consults it: the store's entries matched against each question, the
index rebuilt when another process (the page, `rag faq import`) has changed the entries, and a
match turned into an answer cited as the FAQ entry.

An FAQ answer is the operator's curated text, whole, with one citation of kind "faq": doc id
`faq#<id>`, title the entry's question, quote its answer, metadata its 来源 and 文号.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from rag.faq.match import FaqIndex, FaqLookup, FaqMatch, Weights, encoded_text, phrasings
from rag.faq.store import FAQ_KIND, FaqEntry, FaqError, FaqStore
from rag.faq.vectors import cached_vectors
from rag.types import Answer, AnswerSentence, Chunk, Citation, Passage, Suggestion

log = logging.getLogger(__name__)


def faq_citation_metadata(entry: FaqEntry) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in (("来源", entry.source), ("文号", entry.doc_number)) if v)


def faq_answer(question: str, match: FaqMatch) -> Answer:
    """The answer an FAQ entry gives: its answer text, cited [1] as the entry."""
    entry = match.entry
    chunk = Chunk(chunk_id=entry.label, doc_id=f"faq#{entry.id}", start=0, end=len(entry.answer), source=entry.answer)
    passage = Passage(chunk, score=match.score, dense_score=match.question_cos, lexical_score=match.lexical, rank=1)
    citation = Citation(
        number=1,
        doc_id=chunk.doc_id,
        title=entry.question,
        heading="",
        quote=entry.answer,
        start=0,
        end=len(entry.answer),
        passage=passage,
        metadata=faq_citation_metadata(entry),
        kind=FAQ_KIND,
    )
    sentence = AnswerSentence(entry.answer, 1, entry.answer, match.score, 0)
    return Answer(question, f"{entry.answer}[1]", False, (citation,), (sentence,), (passage,), confidence=match.score)


def suggestions(lookup: FaqLookup) -> tuple[Suggestion, ...]:
    """The entries to offer as 您是否想问 (each by its own question)."""
    return tuple(Suggestion(m.entry.id, m.entry.question) for m in lookup.suggestions)


def faq_id(citation: Citation) -> int | None:
    """The entry an FAQ citation cites (None for a document's citation)."""
    if citation.kind != FAQ_KIND:
        return None
    return int(citation.doc_id.partition("#")[2])


class FaqBook:
    """The FAQ entries of one knowledge base, ready to match questions against."""

    def __init__(self, store: FaqStore, embedder, weights: Weights = Weights()) -> None:
        self.store = store
        self.embedder = embedder
        self.weights = weights
        self._lock = threading.Lock()
        self._version: object = "unread"
        self._index = FaqIndex([], np.zeros((0, 1), np.float32), np.zeros((0, 1), np.float32))
        self._failed: object = None  # a version that could not be read (logged once)

    def index(self) -> FaqIndex:
        """The index of the entries as they are now (rebuilt when the store changed)."""
        version = self.store.version()
        if version == self._version or (version is not None and version == self._failed):
            return self._index
        with self._lock:
            version = self.store.version()
            if version != self._version:
                try:
                    entries = self.store.entries()
                except FaqError:
                    log.exception("cannot read the FAQ; answering without it")
                    self._failed = version
                    return self._index
                questions = phrasings(entries)  # each entry's question and 相似问题
                texts = [("query", encoded_text(q)) for q in questions] + [("passage", encoded_text(e.answer)) for e in entries]
                vectors = cached_vectors(self.store.folder, self.embedder, texts)
                self._index, self._version = FaqIndex(entries, vectors[: len(questions)], vectors[len(questions) :]), version
            return self._index

    def ranked(self, question: str) -> list[FaqMatch]:
        index = self.index()
        if not index.entries:
            return []
        return index.ranked(question, self._vector(question), self.weights)

    def lookup(self, question: str) -> FaqLookup:
        """The entry that answers `question` if one is close enough, else the entries to suggest (docs/faq.md)."""
        index = self.index()
        if not index.entries:
            return FaqLookup()
        return index.lookup(question, self._vector(question), self.weights)

    def match(self, question: str) -> FaqMatch | None:
        """The entry that answers `question`, if one is close enough (docs/faq.md)."""
        return self.lookup(question).match

    def answer(self, question: str) -> Answer | None:
        """The FAQ answer to `question`, or None when no entry is close enough."""
        match = self.match(question)
        return None if match is None else faq_answer(question, match)

    def _vector(self, question: str) -> np.ndarray:
        return self.embedder.encode_queries([encoded_text(question)])[0]
