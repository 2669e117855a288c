"""Extractive answers: the rule reader quotes the sentences of the retrieved passages that answer.

No language model. The sentences are scored in sentence_scoring.py; this module picks what to
quote (the best sentence, a list-announcing sentence with its items, runner-ups that score nearly
as well), each followed by its citation mark and carrying its most specific answering span (see
span.py), and decides whether to answer at all: when the IDF coverage of the sentence that plain
IDF scoring ranks first is below a threshold calibrated on the dev set, the answer says plainly
that the documents do not answer and lists the nearest passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from rag.embedding.names import backend_family
from rag.read.question import QuestionAnalysis, analyse_question
from rag.read.rules.scoring import MAX_SENTENCE_CHARS, Candidate, SentenceScorer
from rag.read.rules.span import find_span
from rag.text.segment import char_bigrams
from rag.text.sentences import split_sentences
from rag.types import Answer, AnswerSentence, Chunk, Citation, Document, Passage

NOT_FOUND = "未在文档中找到相关内容。以下是最接近的段落，供参考："
# A sentence announcing a list: `有以下三点：`, `措施如下：`, `包括三个方面：` (not `第三条规定：`, `办理地点：`)
_NUMERAL = "一二三四五六七八九十两"
_ANNOUNCE = re.compile(
    rf"(?:以下|如下|下列)([{_NUMERAL}\d]*)[^。；;：:]{{0,8}}[：:]"
    rf"|(?<![第{_NUMERAL}\d])([{_NUMERAL}\d]+)(?:个方面|个|点|项|类|种|条)[^。；;：:]{{0,6}}[：:]"
)
# A list item: 一是…, 第一，…, （一）…, 1. / 1、… (not a decimal such as 3.5亿元), or a bullet
_ITEM = re.compile(r"[一二三四五六七八九十]+是|第[一二三四五六七八九十]+[，,、]|[（(]?[一二三四五六七八九十\d]+[）)、.．](?!\d)|[-*•●·]\s?")
_CONSEQUENCE = re.compile(r"(?:因此|所以|因而|于是|故而|从而|由此|因为这样|这使|这让)")


# The rule reader's refusal threshold per encoder backend: the confidence adds the dense z-score,
# and each backend's vectors give their own (int8 ones stand out +0.08 more on the seed reply, with
# a per-question spread of 0.45 between the two: docs/embedder.md). Each is calibrated the same way
# on tests/data/seed_dev.jsonl: the middle of the interval of thresholds where refused unanswerable
# questions minus false refusals is highest (docs/benchmarks.md). `RAG_MIN_CONFIDENCE` overrides.
MIN_CONFIDENCE = {"torch": 0.341, "onnx": 0.369}


def calibrated_min_confidence(backend: str) -> float:
    """The rule reader's threshold for the vectors of an encoder backend (`torch-float32`,
    `onnx-int8-dynamic-per-channel`, …: the family before the first dash); torch's for another."""
    return MIN_CONFIDENCE.get(backend_family(backend), MIN_CONFIDENCE["torch"])


@dataclass(frozen=True)
class AnswerSettings:
    # Confidence = IDF coverage of the question by the best-supported sentence (plain IDF scoring)
    # + z_weight * (dense z - z_center);
    # below min_confidence the question is refused (see MIN_CONFIDENCE).
    min_confidence: float = MIN_CONFIDENCE["torch"]
    z_weight: float = 0.25
    z_center: float = 2.0
    max_sentences: int = 3
    follow_ratio: float = 0.85  # further sentences must score at least this fraction of the best


_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _count_of(numeral: str) -> int:
    """`三` → 3, `十二` → 12, `二十` → 20, `12` → 12, `二十三` → 23; 0 when there is no count (`以下`, `几`)."""
    if numeral.isdigit():
        return int(numeral)
    if numeral in _DIGITS:
        return _DIGITS[numeral]
    tens, sep, ones = numeral.partition("十")
    if not sep or (tens and tens not in _DIGITS) or (ones and ones not in _DIGITS):
        return 0
    return 10 * (_DIGITS[tens] if tens else 1) + (_DIGITS[ones] if ones else 0)


def with_discourse(doc_text: str, chunk: Chunk, question: QuestionAnalysis, start: int, end: int) -> tuple[int, int]:
    """A sentence that announces what follows (`其特点主要有以下三点：`) is quoted with what follows;
    one that draws a consequence (`因此它被称为…`) answers a why-question with its cause, the
    sentence before. Both stay inside the cited passage."""
    spans = split_sentences(chunk.text, chunk.start)
    sentence = doc_text[start:end]
    lead_in = sentence.rstrip().endswith(("：", ":"))
    announced = _ANNOUNCE.search(sentence)
    # `…三点：第一，…。` — the first item may follow the colon inside the sentence itself
    inline_item = bool(announced and _ITEM.match(sentence[announced.end() :].lstrip()))
    if lead_in or inline_item:
        count = _count_of(announced.group(1) or announced.group(2) or "") if announced else 0
        items, own_lines = int(inline_item), False
        for n, (a, b) in enumerate(s for s in spans if s[0] >= end):
            is_item = bool(_ITEM.match(doc_text[a:b]))
            new_line = "\n" in doc_text[end:a]
            if b - start > 2 * MAX_SENTENCE_CHARS or (new_line and not is_item and not (n == 0 and lead_in)):
                break
            if count and items >= count and (is_item or not own_lines or new_line):
                break  # the last announced item ends with its line (or, written inline, its sentence)
            items += is_item
            own_lines = own_lines or (is_item and new_line)
            end = b
    if question.cue in ("为什么", "为何") and _CONSEQUENCE.match(sentence):
        before = [s for s in spans if s[1] <= start]
        if before and end - before[-1][0] <= 2 * MAX_SENTENCE_CHARS:
            start = before[-1][0]
    return start, end


@dataclass(frozen=True)
class Quote:
    """One quoted sentence of an answer: where it stands, and the answering span inside it."""

    passage: Passage  # the passage it is cited from
    start: int  # offsets of the quote in the document
    end: int
    text: str  # the document's text[start:end]
    span: str
    span_start: int  # where the span stands in the quote
    score: float


def cited_answer(question_text: str, documents: dict[str, Document], quotes: list[Quote], passages: list[Passage], confidence: float) -> Answer:
    """The answer both readers give: each quote with its numbered citation, one line each."""
    citations, sentences, parts = [], [], []
    for number, q in enumerate(quotes, start=1):
        doc = documents[q.passage.chunk.doc_id]
        citations.append(
            Citation(
                number=number,
                doc_id=doc.doc_id,
                title=doc.title,
                heading=q.passage.chunk.heading,
                quote=q.text,
                start=q.start,
                end=q.end,
                passage=q.passage,
                metadata=doc.metadata,
                page=doc.page_of(q.start),
            )
        )
        sentences.append(AnswerSentence(q.text, number, q.span, q.score, q.span_start))
        parts.append(f"{q.text}[{number}]")
    return Answer(
        question=question_text,
        text="".join(parts) if len(parts) == 1 else "\n".join(parts),
        refused=False,
        citations=tuple(citations),
        sentences=tuple(sentences),
        passages=tuple(passages),
        confidence=confidence,
    )


class AnswerExtractor:
    """The rule reader (see the module docstring); the fallback when the trained reader cannot load."""

    name = "rules"
    sweep_thresholds: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2)

    def __init__(
        self,
        documents: dict[str, Document],
        idf: Callable[[str], float],
        settings: AnswerSettings = AnswerSettings(),
        known: Callable[[str], bool] = lambda term: True,
    ):
        self.documents = documents
        self.idf = idf
        self.known = known
        self.settings = settings
        self.scorer = SentenceScorer(documents, idf, known)

    @property
    def threshold(self) -> float:
        return self.settings.min_confidence

    def with_threshold(self, threshold: float) -> "AnswerExtractor":
        return AnswerExtractor(self.documents, self.idf, replace(self.settings, min_confidence=threshold), self.known)

    def answer(self, question_text: str, passages: list[Passage], context_question: str | None = None, dense_z: float | None = None) -> Answer:
        question = analyse_question(question_text)
        extra: tuple[str, ...] = ()
        if context_question:
            previous = analyse_question(context_question)
            extra = previous.terms
            if question.elliptical:  # 那下一步呢? (not 为什么呢?)
                stated = question.stated or previous.stated
                question = QuestionAnalysis(question.text, previous.kind, question.terms, previous.cue, stated)
        candidates = self.scorer.candidates(question, passages, extra)
        if not candidates:
            return self.refuse(question_text, passages)
        candidates.sort(key=lambda c: -c.score)
        best = candidates[0]
        confidence = max(candidates, key=lambda c: c.support).coverage
        if dense_z is not None:
            confidence += self.settings.z_weight * (dense_z - self.settings.z_center)
        if confidence < self.settings.min_confidence or not self._shares_a_word(question, best):
            return self.refuse(question_text, passages, confidence=confidence)

        best = self._with_discourse(question, best)
        chosen = [best]
        # a factoid gets its best sentence and at most one runner-up that scores nearly as well
        limit, ratio = (2, 0.95) if question.kind == "factoid" else (self.settings.max_sentences, self.settings.follow_ratio)
        for cand in candidates[1:]:
            if len(chosen) >= limit or cand.score < ratio * best.score:
                break
            overlaps = any(c.passage.chunk.doc_id == cand.passage.chunk.doc_id and c.start < cand.end and cand.start < c.end for c in chosen)
            if not overlaps and cand.text not in {c.text for c in chosen}:
                chosen.append(cand)
        return self._compose(question_text, question, chosen, passages, confidence)

    def _with_discourse(self, question: QuestionAnalysis, best: Candidate) -> Candidate:
        chunk = best.passage.chunk
        doc_text = self.documents[chunk.doc_id].text
        start, end = with_discourse(doc_text, chunk, question, best.start, best.end)
        if (start, end) == (best.start, best.end):
            return best
        return Candidate(best.passage, start, end, doc_text[start:end], best.coverage, best.score, best.support)

    def _shares_a_word(self, question: QuestionAnalysis, best: Candidate) -> bool:
        """An answer must share at least one word (a weighted bigram) with the question, in the
        sentence or its passage; dense similarity alone is not trusted (股票期权 ≠ 清偿账款)."""
        chunk = best.passage.chunk
        present = set(char_bigrams(" ".join((self.documents[chunk.doc_id].title, chunk.heading, chunk.text))))
        return any(len(t) > 1 and t in present and self.scorer.term_weight(t) > 0 for t in question.terms)

    def _compose(self, question_text: str, question: QuestionAnalysis, chosen: list[Candidate], passages: list[Passage], confidence: float) -> Answer:
        quotes = []
        for cand in chosen:
            span = find_span(question, cand.text)
            quotes.append(Quote(cand.passage, cand.start, cand.end, cand.text, span.text, span.start, cand.score))
        return cited_answer(question_text, self.documents, quotes, passages, confidence)

    def refuse(self, question_text: str, passages: list[Passage], confidence: float = 0.0, notice: str = "") -> Answer:
        return Answer(question=question_text, text=NOT_FOUND, refused=True, passages=tuple(passages), confidence=confidence, notice=notice)
