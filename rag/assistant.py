"""The public entry point: open an index, search it, ask it questions.

    >>> assistant = Assistant.open("index")                        # doctest: +SKIP
    >>> answer = assistant.ask("免申即享包括哪些政策?")              # doctest: +SKIP
    >>> answer.text, answer.citations[0].quote                     # doctest: +SKIP

Both the CLI and the web chat go through this class. It reloads the index when another process
(an upload, `python -m rag index`) has published a new generation.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.errors import RagError
from rag.faq import FaqBook, FaqLookup, FaqStore, faq_answer
from rag.faq import suggestions as faq_suggestions
from rag.read import Reader, open_reader
from rag.read.question import is_follow_up
from rag.read.rules.extractor import AnswerExtractor, AnswerSettings, calibrated_min_confidence
from rag.retrieve.hybrid import HybridRetriever
from rag.store import Snapshot, Store, index_backends, open_store
from rag.types import Answer, SearchResult

log = logging.getLogger(__name__)
EMPTY_QUESTION = "请输入一个问题，例如：免申即享包括哪些政策？"
NO_CONTENT = "没有看懂这个问题：请用中文或英文文字提问。"


def clean_question(raw: str, max_chars: int) -> tuple[str, str]:
    """(question, notice): control characters dropped, whitespace collapsed, over-long input cut."""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in raw or "")
    text = re.sub(r"\s+", " ", text).strip()
    notice = ""
    if len(text) > max_chars:
        text = text[:max_chars]
        notice = f"问题过长，只使用了前 {max_chars} 个字符。"
    return text, notice


def _has_content(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


@dataclass(frozen=True)
class _Snapshot:
    """One index generation with the retriever and readers built on it, swapped as a whole."""

    data: Snapshot
    retriever: HybridRetriever
    extractor: AnswerExtractor  # the rule reader, always there (the fallback)
    reader: Reader  # the one that answers: the trained model, or the rules


class Assistant:
    def __init__(self, settings: Settings, embedder=None, answer_settings: AnswerSettings | None = None) -> None:
        self.settings = settings
        if embedder is None:
            from rag.embedding import Embedder

            embedder = Embedder.from_settings(settings, index_backends(settings))
        self.embedder = embedder
        if answer_settings is None:  # the refusal threshold calibrated for the query vectors' backend
            answer_settings = AnswerSettings(min_confidence=calibrated_min_confidence(embedder.info.backend))
        if settings.min_confidence is not None:
            answer_settings = replace(answer_settings, min_confidence=settings.min_confidence)
        self.answer_settings = answer_settings
        self._lock = threading.Lock()
        self.store: Store = open_store(settings)
        self._failed: str | None = None
        self._pointer_failed = False  # the CURRENT file could not be read (logged once)
        self.reader_status = ""  # why the trained reader is not in use, if it is not ("" when it is, or rules were asked for)
        # the knowledge base's curated question–answer pairs, consulted before extraction (docs/faq.md)
        self.faq = FaqBook(FaqStore.of(settings), self.embedder)
        self._load()

    @classmethod
    def open(cls, index_dir: str | Path | None = None, **overrides) -> "Assistant":
        settings = Settings.from_env(index_dir=Path(index_dir) if index_dir else None, **overrides)
        return cls(settings)

    def _load(self) -> None:
        data = self.store.open(model=self.embedder.info.model, dimension=self.embedder.info.dimension)
        self._install(data)

    def _install(self, data: Snapshot) -> None:
        retriever = HybridRetriever(data, self._encode_query, self.settings.retrieval)
        extractor = AnswerExtractor(data.documents, data.idf, self.answer_settings, known=data.knows)
        reader, self.reader_status = open_reader(self.settings, data.documents, extractor)
        self._snapshot = _Snapshot(data, retriever, extractor, reader)  # one assignment: readers see old or new

    @property
    def data(self) -> Snapshot:
        return self._snapshot.data

    @property
    def reader(self) -> Reader:
        return self._snapshot.reader

    @property
    def rule_reader(self) -> AnswerExtractor:
        """The hand-written reader of the generation answering now (the fallback, always there)."""
        return self._snapshot.extractor

    @property
    def retriever(self) -> HybridRetriever:
        return self._snapshot.retriever

    def refresh(self) -> bool:
        """Load the newest index generation if another writer published one. True if it changed.

        If the new generation cannot be loaded, the current one keeps answering (and it is logged)."""
        live = self._live()
        if live == self._snapshot.data.version or live == self._failed:
            return False
        with self._lock:
            live = self._live()
            if live == self._snapshot.data.version or live == self._failed:
                return False
            try:
                self._load()
            except RagError:
                log.exception("could not load index generation %s; still answering from %s", live, self._snapshot.data.version)
                self._failed = live
                return False
            return True

    def _live(self) -> str | None:
        """The live generation, or the one answering now when the pointer cannot be read (logged)."""
        try:
            live = self.store.live_version()
            self._pointer_failed = False
            return live
        except RagError:
            if not self._pointer_failed:
                log.exception("cannot read the index pointer; still answering from %s", self._snapshot.data.version)
            self._pointer_failed = True
            return self._snapshot.data.version

    def _encode_query(self, text: str) -> np.ndarray:
        return self.embedder.encode_queries([text])[0]

    @property
    def documents(self):
        return self._snapshot.data.documents

    def search(self, question: str, k: int | None = None, mode: str = "hybrid") -> SearchResult:
        text, _ = clean_question(question, self.settings.max_query_chars)
        if not text or not _has_content(text):
            return SearchResult(question=question, passages=())
        self.refresh()
        passages = self._snapshot.retriever.search(text, k=k, mode=mode)
        return SearchResult(question=question, passages=tuple(passages))

    def ask(self, question: str, history: list[str] | None = None) -> Answer:
        """Answer a question; `history` holds the user's earlier questions, oldest first."""
        return self.ask_in_context(question, history)[0]

    def ask_in_context(self, question: str, history: list[str] | None = None) -> tuple[Answer, dict]:
        """The answer and the documents of the index generation it came from (for rendering
        citations even if another generation is published meanwhile)."""
        self.refresh()
        snapshot = self._snapshot
        return self._answer(snapshot, question, history), snapshot.data.documents

    def _answer(self, snapshot: _Snapshot, question: str, history: list[str] | None) -> Answer:
        text, notice = clean_question(question, self.settings.max_query_chars)
        if not text:
            return Answer(question=question, text=EMPTY_QUESTION, refused=True)
        if not _has_content(text):
            return Answer(question=question, text=NO_CONTENT, refused=True)
        previous = next((q for q in reversed(history or []) if q and q.strip()), None)
        context = None
        if previous and is_follow_up(text):
            context = clean_question(previous, self.settings.max_query_chars)[0]
        query = f"{context} {text}" if context else text
        # a question close enough to an FAQ entry's gets the entry's answer; one near some entries gets
        # the extracted answer and those entries as 您是否想问 (a follow-up is read in context, never by the FAQ)
        lookup = FaqLookup() if context else self.faq.lookup(text)
        if lookup.match is not None:
            faq = faq_answer(text, lookup.match)
            return replace(faq, notice=notice) if notice else faq
        passages, dense_z = snapshot.retriever.search_with_stats(query, k=self.settings.retrieval.top_k)
        answer = snapshot.reader.answer(text, passages, context_question=context, dense_z=dense_z)
        if notice or lookup.suggestions:
            answer = replace(answer, notice=notice or answer.notice, suggestions=faq_suggestions(lookup))
        return answer
