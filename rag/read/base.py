"""What a reader is: something that turns a question and its retrieved passages into an Answer.

Two implementations: the trained model (`rag.read.model.reader.ModelReader`, the default) and the
hand-written rules (`rag.read.rules.extractor.AnswerExtractor`: fast, no torch, and the named
fallback when the model's weights cannot load). `RAG_READER=model|rules`. A reader only decides
which span answers; quoting, citing and refusing are composed the same way for both
(`rag.read.compose`), from the question analysed once (`rag.read.question`).
"""

from __future__ import annotations

from typing import Protocol

from rag.read.question import QuestionAnalysis
from rag.types import Answer, Passage


class Reader(Protocol):
    name: str
    sweep_thresholds: tuple[float, ...]  # thresholds `rag eval --sweep` reports refusal at

    @property
    def threshold(self) -> float:
        """Below this confidence a question is refused."""
        ...

    def with_threshold(self, threshold: float) -> "Reader":
        """The same reader refusing below `threshold` (-inf: only when nothing can answer)."""
        ...

    def answer(
        self,
        question_text: str,
        passages: list[Passage],
        context_question: str | None = None,
        dense_z: float | None = None,
        question: QuestionAnalysis | None = None,
    ) -> Answer:
        """The answer with its citations, or a refusal (Answer.refused) listing the passages.
        `question`: the question already analysed (`analyse_question(question_text)`), not analysed again."""
        ...
