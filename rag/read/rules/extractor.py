"""The rule reader: quotes the sentences of the retrieved passages that answer.

No language model. The sentences are scored in scoring.py; this module picks what to quote (the
best sentence, a list-announcing sentence with its items, runner-ups that score nearly as well),
each carrying its most specific answering span (span.py), composed and cited as both readers do
(rag/read/compose.py), and decides whether to answer at all: when the IDF coverage of the sentence that plain
IDF scoring ranks first is below a threshold calibrated on the dev set, the answer says plainly
that the documents do not answer and lists the nearest passages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from rag.embedding.names import backend_family
from rag.read.compose import Quote, cited_answer, names_agree, quote_limit, refusal, with_discourse
from rag.read.question import Kind, QuestionAnalysis, analyse_question
from rag.read.rules.scoring import Candidate, SentenceScorer
from rag.read.rules.span import find_span
from rag.text.segment import char_bigrams
from rag.types import Answer, Document, Passage

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

    def answer(
        self,
        question_text: str,
        passages: list[Passage],
        context_question: str | None = None,
        dense_z: float | None = None,
        question: QuestionAnalysis | None = None,
    ) -> Answer:
        question = question or analyse_question(question_text)
        extra: tuple[str, ...] = ()
        if context_question:
            previous = analyse_question(context_question)
            extra = previous.terms
            if question.elliptical:  # 那下一步呢? (not 为什么呢?)
                stated = question.stated or previous.stated
                question = QuestionAnalysis(question.text, previous.kind, question.terms, previous.cue, stated, question.names)
        # only passages whose documents name the places and years the question names (compose.names_agree)
        candidates = self.scorer.candidates(question, [p for p in passages if names_agree(question, self.documents[p.chunk.doc_id])], extra)
        if not candidates:
            return refusal(question_text, passages)
        candidates.sort(key=lambda c: -c.score)
        best = candidates[0]
        confidence = max(candidates, key=lambda c: c.support).coverage
        if dense_z is not None:
            confidence += self.settings.z_weight * (dense_z - self.settings.z_center)
        if confidence < self.settings.min_confidence or not self._shares_a_word(question, best):
            return refusal(question_text, passages, confidence=confidence)

        best = self._with_discourse(question, best)
        chosen = [best]
        # a factoid gets its best sentence and at most one runner-up that scores nearly as well
        limit = quote_limit(question, self.settings.max_sentences)
        ratio = 0.95 if question.kind is Kind.FACTOID else self.settings.follow_ratio
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
