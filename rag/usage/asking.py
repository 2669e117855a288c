"""The one place a user's question is answered and logged: `rag ask`, the web chat and its `/ask`
API call `ask_logged`; `rag eval`, the benchmarks and the tests call the Assistant directly and
leave no trace in the log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rag.assistant import Assistant
from rag.types import Answer, Passage
from rag.usage.log import QuestionLog, open_log
from rag.usage.records import LoggedQuestion

# After 👎 the user may pick the passage that answers among this many: the ones the answer showed
# first, then retrieval's next ones. Only the shown five would leave the log blind to every passage
# retrieval ranked lower, and calibration would keep the weight in use (docs/question-log.md: on
# CAIL it chose 0.5, held-out R@5 0.650, against 0.4, 0.669, with 20 offered; the labelled best 0.3, 0.673).
OFFERED_PASSAGES = 20


def passages_to_pick(assistant: Assistant, question: str, shown: tuple[Passage, ...], k: int = OFFERED_PASSAGES) -> list[Passage]:
    """The passages offered after 👎: those shown, then retrieval's next ones, `k` in all; only
    passages of documents (an FAQ answer shows its entry, which is no passage to pick)."""
    documents = assistant.documents
    shown = tuple(p for p in shown if p.chunk.doc_id in documents)
    seen = {p.chunk.chunk_id for p in shown}
    more = [p for p in assistant.search(question, k=k).passages if p.chunk.chunk_id not in seen]
    return [*shown, *more][:k]


@dataclass(frozen=True)
class Asked:
    answer: Answer
    documents: dict  # the documents of the index generation it came from (for its citations)
    log_id: str | None  # None when nothing was logged (RAG_LOG=off, or the log could not be written)


def ask_logged(assistant: Assistant, question: str, history: list[str] | None = None, *, user: str = "", log: QuestionLog | None = None) -> Asked:
    """`assistant.ask_in_context`, with the question, its answer and how long it took appended to
    the knowledge base's log (`log`, else the one of the assistant's index folder). A log that
    cannot be written never fails the answer."""
    log = log or open_log(Path(assistant.settings.index_dir))
    started = time.perf_counter()
    answer, documents = assistant.ask_in_context(question, history=history)
    latency_ms = 1000 * (time.perf_counter() - started)
    if log is None:
        return Asked(answer, documents, None)
    earlier = next((q for q in reversed(history or []) if q and q.strip()), "")
    reader = assistant.reader
    record = LoggedQuestion.of_answer(
        log.new_id(),
        answer,
        kb=log.kb,
        reader=reader.name,
        threshold=reader.threshold,
        dense_weight=assistant.settings.retrieval.dense_weight,
        latency_ms=latency_ms,
        context=earlier,
        user=user,
    )
    return Asked(answer, documents, record.id if log.question(record) else None)
