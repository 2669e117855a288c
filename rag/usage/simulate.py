"""Judgments simulated from a labelled set: how `rag calibrate --from-log` is measured (its test,
bench/calibrate_from_log.py). Each question is asked as a user would ask it (logged through
`ask_logged`), then judged as a user who knows the answer would judge it:

- answerable, answered, its first citation in a gold passage: 👍;
- answerable otherwise (a wrong passage cited, or refused): 👎, with the first gold passage among
  those offered picked (`passages_to_pick`, as the chat offers them), or nothing picked when none is
  (`wrong-answer` on an answer, `wrongly-refused` on a refusal);
- unanswerable: 👍 on a refusal; on an answer 👎 and 以上段落都不能回答 (`no_answer`: `unanswerable`);
- answered from an FAQ entry (rag/faq): not judged (whether the entry answers it is not in the
  labelled set, and such a judgment says nothing about the documents: `faq-answered`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rag.evaluation.datasets import EvalQuestion, EvalSet
from rag.faq.store import FAQ_KIND
from rag.usage.asking import OFFERED_PASSAGES, ask_logged, passages_to_pick
from rag.usage.log import QuestionLog
from rag.usage.records import Span


def simulate_judgments(log: QuestionLog, assistant, evalset: EvalSet, questions: Iterable[EvalQuestion], offered: int = OFFERED_PASSAGES) -> Counter:
    """Ask and judge `questions` (of `evalset`) into `log`; how many of each judgment were given.
    `offered`: after 👎 the user picks among this many passages, as the chat offers them (0: only
    those the answer showed)."""
    given: Counter = Counter()
    for q in questions:
        asked = ask_logged(assistant, q.question, log=log)
        if asked.log_id is None:
            given["not logged"] += 1
            continue
        answer, titles = asked.answer, {d: doc.title for d, doc in asked.documents.items()}
        if answer.citations and answer.citations[0].kind == FAQ_KIND:
            given["FAQ answer, not judged"] += 1
            continue
        if not q.answerable:
            log.feedback(asked.log_id, "up" if answer.refused else "down", no_answer=not answer.refused)
            given["refused unanswerable 👍" if answer.refused else "answered unanswerable 👎 + no answer"] += 1
            continue
        if not answer.refused and answer.citations and evalset.is_relevant(q, answer.citations[0].passage.chunk, titles[answer.citations[0].doc_id]):
            log.feedback(asked.log_id, "up")
            given["right 👍"] += 1
            continue
        choices = passages_to_pick(assistant, q.question, answer.passages, offered) if offered else answer.passages
        gold = next((p.chunk for p in choices if p.chunk.doc_id in titles and evalset.is_relevant(q, p.chunk, titles[p.chunk.doc_id])), None)
        log.feedback(asked.log_id, "down", Span(gold.doc_id, gold.start, gold.end) if gold else None)
        given[("refused" if answer.refused else "wrong") + (" 👎 + passage" if gold else " 👎")] += 1
    return given
