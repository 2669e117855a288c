"""Judged questions of the log as a `rag eval` JSONL set.

One row per judged question, in the JSONL form `rag eval` reads (rag/evaluation/datasets.py:
`question`, `answers`, `docs`, `answerable`), plus `label` and `log_id` saying where it came from.
What each judgment becomes (docs/question-log.md):

- `answered-right` (👍 on an answer): answerable; its first citation's document is the gold
  document, its answer span the gold answer.
- `answerable-passage` (👎 on an answer or a refusal, the right passage picked): answerable; the
  picked passage is the gold one (its text is the `answers` string, so only that passage counts as
  retrieved; the hit and F1 of such rows say nothing).
- `unanswerable` (👎 on an answer, then 以上段落都不能回答 chosen): `answerable: false`.
- `rightly-refused` (👍 on a refusal): `answerable: false`.
- not exported (counted, with why): `wrongly-refused` (👎 on a refusal, no passage picked: nothing to
  score retrieval against; calibration counts it as "should be answered"), `wrong-answer` (👎 on an
  answer, nothing chosen: wrong, but whether the documents answer it is not said) and
  `faq-answered` (👍 on an FAQ entry's answer: no evidence about the documents).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.usage.records import Judged, Span

TextOf = Callable[[Span], str | None]  # the text of a span of a document in the index (None: not there any more)


@dataclass(frozen=True)
class Exported:
    rows: list[dict[str, Any]]
    left_out: Counter  # why judged questions were not exported: label or "document gone"


def eval_row(judged: Judged, text_of: TextOf) -> dict[str, Any] | None:
    """The `rag eval` row of one judged question; `wrongly-refused` rows have no gold (answerable,
    no docs): callers that score retrieval leave them out. None when its judgment does not say
    whether it should be answered (unjudged, `wrong-answer`, `faq-answered`), or when
    its gold passage is no longer in the index."""
    label = judged.label
    q = judged.question
    if judged.should_answer is None:
        return None
    row: dict[str, Any] = {"question": q.question, "answers": [], "docs": [], "answerable": judged.should_answer, "label": label, "log_id": q.id}
    relevant = judged.relevant
    if relevant is None:
        return row
    gold = q.span if label == "answered-right" and q.span else text_of(relevant)
    if not gold:
        return None
    row["answers"], row["docs"] = [gold], [relevant.doc]
    return row


def export_rows(entries: Iterable[Judged], text_of: TextOf) -> Exported:
    rows: list[dict[str, Any]] = []
    left_out: Counter = Counter()
    for judged in entries:
        if judged.feedback is None:
            continue
        if judged.should_answer is None:
            left_out[judged.label] += 1
            continue
        row = eval_row(judged, text_of)
        if row is None:
            left_out["document gone"] += 1
        elif row["answerable"] and not row["docs"]:
            left_out[row["label"]] += 1
        else:
            rows.append(row)
    return Exported(rows, left_out)


def documents_text_of(documents: dict) -> TextOf:
    """`text_of` over the documents of an index generation (doc id → Document)."""

    def text_of(span: Span) -> str | None:
        doc = documents.get(span.doc)
        if doc is None or span.end > len(doc.text):
            return None
        return doc.text[span.start : span.end] or None

    return text_of


def write_jsonl(rows: list[dict[str, Any]], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
