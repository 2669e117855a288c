"""Retrieval and answer metrics.

Character-level EM/F1 follow the official CMRC 2018 scorer: lower-case, drop punctuation and
whitespace, compare characters (each CJK character is a token), best over the references.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

_PUNCT = set(string.punctuation) | set("，。！？；：、“”‘’（）《》〈〉【】『』「」—…·～,.!?;:\"'()[]{}<>－﹑")


def normalise_answer(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch not in _PUNCT and not ch.isspace())


def char_f1(prediction: str, reference: str) -> float:
    pred, ref = normalise_answer(prediction), normalise_answer(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, reference: str) -> float:
    return float(normalise_answer(prediction) == normalise_answer(reference))


def best_over(fn, prediction: str, references: tuple[str, ...]) -> float:
    return max((fn(prediction, r) for r in references), default=0.0)


def contains(text: str, reference: str) -> bool:
    return normalise_answer(reference) in normalise_answer(text)


@dataclass
class RetrievalScores:
    ks: tuple[int, ...] = (1, 5, 10, 20)
    hits: Counter = field(default_factory=Counter)
    reciprocal_ranks: list[float] = field(default_factory=list)
    n: int = 0

    def add(self, relevant_ranks: list[int]) -> None:
        """relevant_ranks: 1-based ranks of relevant results (may be empty)."""
        self.n += 1
        first = min(relevant_ranks) if relevant_ranks else None
        for k in self.ks:
            if first is not None and first <= k:
                self.hits[k] += 1
        self.reciprocal_ranks.append(1.0 / first if first is not None and first <= 10 else 0.0)

    def summary(self) -> dict[str, float]:
        out = {f"R@{k}": self.hits[k] / max(self.n, 1) for k in self.ks}
        out["MRR@10"] = sum(self.reciprocal_ranks) / max(self.n, 1)
        return out


@dataclass
class AnswerScores:
    answerable: int = 0
    hit: int = 0  # the answer text holds a reference (any one)
    all_strings: int = 0  # the answer holds every expected string (dev-set criterion)
    em: float = 0.0
    f1: float = 0.0
    length: int = 0
    cited_right: int = 0
    answered: int = 0  # answerable questions not refused
    false_refusals: int = 0
    unanswerable: int = 0
    refused_unanswerable: int = 0
    refused_total: int = 0

    def summary(self) -> dict[str, float]:
        a = max(self.answerable, 1)
        out = {
            "hit": self.hit / a,
            "all_strings": self.all_strings / a,
            "EM": 100 * self.em / a,
            "F1": 100 * self.f1 / a,
            "answer_chars": self.length / max(self.answered, 1),
            "citation_acc": self.cited_right / max(self.answered, 1),
            "false_refusal": self.false_refusals / a,
        }
        if self.unanswerable:
            out["refusal_recall"] = self.refused_unanswerable / self.unanswerable
            out["refusal_precision"] = self.refused_unanswerable / max(self.refused_total, 1)
        return out


def answer_text_for_scoring(span: str, text: str) -> str:
    """The span when there is one (CMRC scores the most specific phrase), else the answer text."""
    return span or re.sub(r"\[\d+\]", "", text)
