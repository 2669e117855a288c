"""What a reader is: something that turns a question and its retrieved passages into an Answer.

Two implementations: the hand-written rules (`rag.answer.AnswerExtractor`, the default and the
named fallback) and the trained model (`model.py`). `RAG_READER=model|rules`.
"""

from __future__ import annotations

from typing import Protocol

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

    def answer(self, question_text: str, passages: list[Passage], context_question: str | None = None, dense_z: float | None = None) -> Answer:
        """The answer with its citations, or a refusal (Answer.refused) listing the passages."""
        ...
