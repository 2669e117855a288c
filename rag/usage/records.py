"""What the question log holds: one record per question asked, one per judgment, joined by id.

A question record (`"type": "question"`) is written when the answer is given; a feedback record
(`"type": "feedback"`) when the user judges it, later, as a line of its own: the file stays
append-only and a judgment never rewrites the question. Reading joins them: the last judgment of
a question wins (a 👎 followed by the pick of the right passage is one judgment, the pick).

    {"type": "question", "id": "3f2a…", "time": "2026-12-08T03:11:08Z", "kb": "index",
     "question": "免申即享包括哪些政策?", "refused": false, "answer": "…[1]", "span": "…",
     "citations": [{"doc": "a.txt", "start": 120, "end": 188, "score": 0.93}],
     "passages": [{"doc": "a.txt", "start": 0, "end": 300, "score": 0.93}, …],
     "confidence": 0.71, "threshold": 0.369, "reader": "rules", "dense_weight": 0.5, "latency_ms": 8.1}
    {"type": "feedback", "id": "3f2a…", "time": "…", "verdict": "down", "passage": {"doc": "a.txt", "start": 0, "end": 300}}
    {"type": "feedback", "id": "3f2a…", "time": "…", "verdict": "down", "no_answer": true}

A citation of an FAQ entry's answer (rag/faq) is logged with `"kind": "faq"` and its entry as
`doc` (`"faq#12"`); a judgment of such an answer says nothing about the documents' retrieval or the
readers (`faq-answered`). `"no_answer": true`: the user chose 以上段落都不能回答 after 👎 (the
documents do not answer the question); a 👎 without it and without a passage only says the answer
was wrong (`wrong-answer`), which is also how a 👎 of the first logs (before `no_answer`) reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from rag.faq.store import FAQ_KIND
from rag.types import Answer, Passage

VERSION = 1
Verdict = Literal["up", "down"]
VERDICTS = ("up", "down")


@dataclass(frozen=True)
class Span:
    """A place in a document: a citation or a retrieved passage (with its score), or a picked passage."""

    doc: str
    start: int
    end: int
    score: float | None = None
    kind: str = "document"  # or FAQ_KIND: an FAQ entry's answer cited (doc "faq#<id>")

    @property
    def is_faq(self) -> bool:
        return self.kind == FAQ_KIND

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"doc": self.doc, "start": self.start, "end": self.end}
        if self.score is not None:
            out["score"] = round(self.score, 4)
        if self.kind != "document":
            out["kind"] = self.kind
        return out

    @classmethod
    def of(cls, raw: Any) -> Span | None:
        """The span a record holds, or None when it is not one (a hand-edited line, a newer format)."""
        if not isinstance(raw, dict):
            return None
        doc, start, end, score = raw.get("doc"), raw.get("start"), raw.get("end"), raw.get("score")
        if not isinstance(doc, str) or not isinstance(start, int) or not isinstance(end, int) or end < start:
            return None
        kind = raw.get("kind")
        if not isinstance(kind, str):  # the first logs did not say: an FAQ entry is cited as faq#<id>
            kind = FAQ_KIND if _FAQ_DOC.fullmatch(doc) else "document"
        return cls(doc, start, end, float(score) if isinstance(score, (int, float)) else None, kind)


_FAQ_DOC = re.compile(r"faq#\d+")


def _passage_span(p: Passage) -> Span:
    return Span(p.chunk.doc_id, p.chunk.start, p.chunk.end, p.score)


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LoggedQuestion:
    """One question as it was answered (the fields calibration and export read)."""

    id: str
    time: str
    kb: str
    question: str
    refused: bool
    answer: str = ""
    span: str = ""
    context: str = ""  # the earlier question a follow-up was read with ("" when none)
    citations: tuple[Span, ...] = ()
    passages: tuple[Span, ...] = ()
    confidence: float = 0.0
    threshold: float | None = None
    reader: str = ""
    dense_weight: float | None = None
    latency_ms: float = 0.0
    user: str = ""

    @classmethod
    def of_answer(
        cls, log_id: str, answer: Answer, *, kb: str, reader: str, threshold: float, dense_weight: float, latency_ms: float, context: str = "", user: str = ""
    ) -> LoggedQuestion:
        return cls(
            id=log_id,
            time=now_utc(),
            kb=kb,
            question=answer.question,
            refused=answer.refused,
            answer=answer.text,
            span="" if answer.refused else answer.span,
            context=context,
            citations=tuple(Span(c.doc_id, c.start, c.end, c.passage.score, c.kind) for c in answer.citations),
            passages=tuple(_passage_span(p) for p in answer.passages),
            confidence=answer.confidence,
            threshold=threshold,
            reader=reader,
            dense_weight=dense_weight,
            latency_ms=latency_ms,
            user=user,
        )

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "question", "v": VERSION, "id": self.id, "time": self.time, "kb": self.kb, "question": self.question}
        out |= {"refused": self.refused, "answer": self.answer, "span": self.span}
        if self.context:
            out["context"] = self.context
        out["citations"] = [c.json() for c in self.citations]
        out["passages"] = [p.json() for p in self.passages]
        out |= {"confidence": round(self.confidence, 4), "threshold": self.threshold, "reader": self.reader, "dense_weight": self.dense_weight}
        out["latency_ms"] = round(self.latency_ms, 1)
        if self.user:
            out["user"] = self.user
        return out

    @classmethod
    def of(cls, raw: dict[str, Any]) -> LoggedQuestion | None:
        """The question a record holds, or None when a field is missing or of the wrong type."""
        try:
            spans = {key: tuple(s for s in (Span.of(x) for x in raw.get(key) or []) if s) for key in ("citations", "passages")}
            return cls(
                id=str(raw["id"]),
                time=str(raw.get("time", "")),
                kb=str(raw.get("kb", "")),
                question=str(raw["question"]),
                refused=bool(raw["refused"]),
                answer=str(raw.get("answer", "")),
                span=str(raw.get("span", "")),
                context=str(raw.get("context", "")),
                citations=spans["citations"],
                passages=spans["passages"],
                confidence=float(raw.get("confidence") or 0.0),
                threshold=raw.get("threshold"),
                reader=str(raw.get("reader", "")),
                dense_weight=raw.get("dense_weight"),
                latency_ms=float(raw.get("latency_ms") or 0.0),
                user=str(raw.get("user", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Feedback:
    """A user's judgment of one logged answer: 👍 / 👎, and after 👎 optionally the passage that
    does answer (one of those offered), or `no_answer`: none does, the documents do not answer it."""

    id: str
    verdict: Verdict
    passage: Span | None = None
    time: str = ""
    no_answer: bool = False

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "feedback", "id": self.id, "time": self.time or now_utc(), "verdict": self.verdict}
        if self.passage:
            out["passage"] = {"doc": self.passage.doc, "start": self.passage.start, "end": self.passage.end}
        if self.no_answer:
            out["no_answer"] = True
        return out

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Feedback | None:
        verdict = raw.get("verdict")
        if verdict not in VERDICTS or "id" not in raw:
            return None
        passage = Span.of(raw.get("passage"))
        no_answer = raw.get("no_answer") is True and passage is None and verdict == "down"
        return cls(str(raw["id"]), verdict, passage, str(raw.get("time", "")), no_answer)


@dataclass(frozen=True)
class Judged:
    """A logged question with its last judgment (None: not judged)."""

    question: LoggedQuestion
    feedback: Feedback | None = None

    @property
    def label(self) -> str:
        """What the judgment says, in the words docs/question-log.md defines:

        - `answered-right`: answered, 👍 (its first citation is relevant, its span the gold answer);
        - `answerable-passage`: 👎 with the right passage picked (on an answer or a refusal);
        - `unanswerable`: 👎, then 以上段落都不能回答 chosen (the documents do not answer it: it
          should be refused);
        - `rightly-refused`: refused, 👍;
        - `wrongly-refused`: refused, 👎 without a pick ("the documents do answer this");
        - `wrong-answer`: answered, 👎 and nothing chosen: wrong, but whether the documents answer
          it is not said (neither side of a refusal threshold);
        - `faq-answered`: an FAQ entry's answer, 👍 (says nothing about the documents);
        - `unjudged`."""
        f = self.feedback
        if f is None:
            return "unjudged"
        if f.passage is not None:
            return "answerable-passage"
        if f.no_answer:
            return "unanswerable"
        if self.question.refused:
            return "rightly-refused" if f.verdict == "up" else "wrongly-refused"
        if f.verdict == "up":
            return "faq-answered" if self.from_faq else "answered-right"
        return "wrong-answer"

    @property
    def from_faq(self) -> bool:
        """Whether an FAQ entry answered it (its first citation is the entry's)."""
        return bool(self.question.citations) and self.question.citations[0].is_faq

    @property
    def should_answer(self) -> bool | None:
        """The refusal side: True when it should be answered, False when refused; None when the
        judgment does not say (unjudged, `wrong-answer`, `faq-answered`)."""
        return SHOULD_ANSWER.get(self.label)

    @property
    def relevant(self) -> Span | None:
        """The passage of a document the judgment says answers it (None when it names none)."""
        label = self.label
        if label == "answerable-passage":
            return self.feedback.passage if self.feedback else None
        if label == "answered-right" and self.question.citations:
            return self.question.citations[0]
        return None


# the labels that say which side of a refusal threshold a question belongs on (the others do not)
SHOULD_ANSWER = {"answered-right": True, "answerable-passage": True, "wrongly-refused": True, "unanswerable": False, "rightly-refused": False}
