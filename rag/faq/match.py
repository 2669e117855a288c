"""Whether a question is one of the FAQ's questions: semantic and lexical closeness, combined.

    semantic = (1 − ANSWER_WEIGHT) × cos(question, FAQ question) + ANSWER_WEIGHT × cos(question, FAQ answer)
    score    = (1 − LEXICAL_WEIGHT) × semantic + LEXICAL_WEIGHT × lexical

- semantic, with the knowledge base's own embedder (e5), every text folded to simplified script:
  the cosine of the two questions' query vectors, and the cosine of the question's query vector
  with the answer's passage vector (e5 was trained to bring a query near the passage that answers
  it: `老板不发工资去哪里投诉` is nearer the answer about 12333 than the question `被拖欠工资如何投诉`
  is worded);
- lexical: the IDF-weighted Dice overlap of the two questions' terms, Chinese cut as BM25 cuts it
  (rag/text/segment.char_bigrams: characters and character bigrams, either script folded), the IDF
  taken over the FAQ's questions with BM25's formula, so `如何办理` weighs little in a list where
  every question asks how.

An entry with 相似问题 (other phrasings of its question) is scored against each phrasing, with the
same answer, and counts by its best phrasing.

A question matches its best-scoring entry when the score reaches THRESHOLD and the two agree on
places and years: every place or year the question names is named by the entry (its question or
answer: rag/read/compose.names_agree, the readers' rule), and where both questions name places (or
years) they share one. `2024年…` does not get the answer to `2023年…`, nor `厦门…` that to `福州…`.

The weights and THRESHOLD are measured on a labelled set (bench/data/faq_match.jsonl: 62 FAQ
questions, two citizens' paraphrases each, 104 near misses and unrelated questions), chosen on its
calibration half and reported on the other: `python bench/faq_match.py --choose` (docs/faq.md).

When no entry matches, up to MAX_SUGGESTIONS agreeing entries scoring at least SUGGEST_THRESHOLD
(chosen on the same calibration half) are offered as 您是否想问 next to the extracted answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from rag.faq.store import FaqEntry
from rag.read.compose import names_agree
from rag.read.question import analyse_question
from rag.store.bm25 import inverse_document_frequency
from rag.text.places import named_places, named_years
from rag.text.script import fold
from rag.text.segment import char_bigrams
from rag.types import Document

ANSWER_WEIGHT = 0.3  # measured: python bench/faq_match.py --choose (calibration half)
LEXICAL_WEIGHT = 0.0  # measured: the same
THRESHOLD = 0.955  # measured: the same
SUGGEST_THRESHOLD = 0.9175  # measured: python bench/faq_match.py --choose (calibration half: MAX_SUGGEST_RATE there)
MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class Weights:
    answer: float = ANSWER_WEIGHT
    lexical: float = LEXICAL_WEIGHT
    threshold: float = THRESHOLD
    suggest: float = SUGGEST_THRESHOLD  # below `threshold`: offered as 您是否想问, not answered

    def score(self, question_cos, answer_cos, lexical):
        """The combined score (floats or arrays alike)."""
        return (1 - self.lexical) * ((1 - self.answer) * question_cos + self.answer * answer_cos) + self.lexical * lexical


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float  # the combined score
    question_cos: float  # cosine of the two questions' query vectors
    answer_cos: float  # cosine of the question's query vector and the answer's passage vector
    lexical: float  # IDF-weighted term overlap of the questions, 0..1
    names_agree: bool  # the question's places and years agree with the entry's
    phrasing: str = ""  # the entry's phrasing that scored best (its question or one of its 相似问题)


@dataclass(frozen=True)
class FaqLookup:
    """What the FAQ says to a question: the entry that answers it, or else entries to suggest."""

    match: FaqMatch | None = None
    suggestions: tuple[FaqMatch, ...] = ()  # best first, at most MAX_SUGGESTIONS; empty when matched


def encoded_text(question: str) -> str:
    """What is encoded of a question (FAQ entry or user question alike): folded to simplified."""
    return fold(question)


Names = tuple[frozenset[str], frozenset[str]]  # the places and the years a question names


def _names(question: str) -> Names:
    return frozenset(named_places(question)), frozenset(named_years(question))


def _names_conflict(mine: Names, theirs: Names) -> bool:
    """Both name places (or years) and share none: `厦门…` against `福州…`, `2024年` against `2023年`."""
    return any(a and b and not a & b for a, b in zip(mine, theirs))


class FaqIndex:
    """The entries of one FAQ version with their vectors and term weights (immutable).
    `question_vectors` has one row per phrasing, in the order of `phrasings(entries)`."""

    def __init__(self, entries: list[FaqEntry], question_vectors: np.ndarray, answer_vectors: np.ndarray) -> None:
        self.entries = entries
        self.question_vectors, self.answer_vectors = question_vectors, answer_vectors
        self._owner = np.array([i for i, e in enumerate(entries) for _ in e.phrasings], dtype=np.int64)
        self._phrasings = phrasings(entries)
        self._terms = [Counter(char_bigrams(q)) for q in self._phrasings]
        df = Counter(t for terms in self._terms for t in terms)
        n = len(self._phrasings)
        self._idf = {t: float(inverse_document_frequency(n, d)) for t, d in df.items()}
        self._unseen_idf = float(inverse_document_frequency(n, 0))
        self._weights = [self._weight(terms) for terms in self._terms]
        self._documents = [Document(doc_id=e.label, title=e.question, text="\n".join((*e.phrasings, e.answer)), content_hash="") for e in entries]
        self._names = [_names(" ".join(e.phrasings)) for e in entries]

    def _weight(self, terms: Counter) -> float:
        return sum(self._idf.get(t, self._unseen_idf) for t in terms)

    def lexical(self, question: str) -> list[float]:
        """The IDF-weighted Dice overlap of the question's terms with each phrasing's (sets of terms)."""
        mine = Counter(char_bigrams(question))
        own = self._weight(mine)
        scores = []
        for terms, weight in zip(self._terms, self._weights):
            shared = sum(self._idf[t] for t in mine if t in terms)
            scores.append(2 * shared / (own + weight) if own + weight > 0 else 0.0)
        return scores

    def ranked(self, question: str, vector: np.ndarray, weights: Weights = Weights()) -> list[FaqMatch]:
        """Every entry scored against the question (`vector`: its query vector) by its best
        phrasing, best first."""
        if not self.entries:
            return []
        question_cos, answer_cos = self.question_vectors @ vector, self.answer_vectors @ vector
        lexical = np.array(self.lexical(question))
        scores = np.asarray(weights.score(question_cos, answer_cos[self._owner], lexical), dtype=np.float64)
        scores = np.where(np.isfinite(scores), scores, 0.0)
        best = np.full(len(self.entries), -1, dtype=np.int64)  # each entry's best phrasing (row)
        for row in np.argsort(-scores, kind="stable")[::-1]:  # worst first: the best is written last
            best[self._owner[row]] = row
        analysis, names = analyse_question(question), _names(question)
        out = []
        for i, entry in enumerate(self.entries):
            row = int(best[i])
            agree = not _names_conflict(names, self._names[i]) and names_agree(analysis, self._documents[i])
            out.append(FaqMatch(entry, float(scores[row]), float(question_cos[row]), float(answer_cos[i]), float(lexical[row]), agree, self._phrasings[row]))
        out.sort(key=lambda m: -m.score)
        return out

    def lookup(self, question: str, vector: np.ndarray, weights: Weights = Weights()) -> FaqLookup:
        """The best agreeing entry if its score reaches the threshold; else the agreeing entries
        that reach the suggestion threshold (at most MAX_SUGGESTIONS)."""
        agreeing = [m for m in self.ranked(question, vector, weights) if m.names_agree]
        if agreeing and agreeing[0].score >= weights.threshold:
            return FaqLookup(agreeing[0])
        return FaqLookup(None, tuple(m for m in agreeing[:MAX_SUGGESTIONS] if m.score >= weights.suggest))

    def best(self, question: str, vector: np.ndarray, weights: Weights = Weights()) -> FaqMatch | None:
        """The best entry whose places and years agree, if its score reaches the threshold."""
        return self.lookup(question, vector, weights).match


def phrasings(entries: list[FaqEntry]) -> list[str]:
    """Every entry's question and 相似问题, in order: the rows of FaqIndex's question vectors."""
    return [q for e in entries for q in e.phrasings]
