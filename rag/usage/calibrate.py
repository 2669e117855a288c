"""`rag calibrate --from-log`: a knowledge base's fusion weight and refusal thresholds from its
judged questions, written into its own settings (`<index>/settings.json`), never into the code.

The judged questions are asked again through the knowledge base's own retrieval (rag/evaluation's
`Evaluation`, the machinery of `rag eval --sweep`):

- **fusion weight** (`retrieval.dense_weight`): over the questions whose judgment names a relevant
  passage (👍 on an answer: its first citation; 👎 with a passage picked), the weight of `WEIGHTS`
  with the best R@5, ties broken by MRR@10 and then by the nearest to the weight in use;
- **refusal thresholds** (`min_confidence` of the rules reader, `reader_min_margin` of the trained
  one): at the chosen weight, over the questions the judgments say should be answered or refused
  (`Judged.should_answer`: a 👎 on an answer with nothing chosen, `wrong-answer`, says neither, nor
  does a 👍 on an FAQ entry's answer; both are left out),
  the threshold refusing the most of those that should be refused while refusing at most
  `MAX_FALSE_REFUSALS` (5 %) of those that should be answered (evaluation's `capped_threshold`;
  `--max-false-refusals`). Not the balanced rule (most refused minus falsely refused): on CAIL
  judgments it chose a rules threshold refusing 71 % of answerable questions (docs/question-log.md).

Each choice comes with a bootstrap interval (the questions resampled `RESAMPLES` times, the choice
made again on each sample: the 2.5th and 97.5th percentiles). Below `MIN_WEIGHT_QUESTIONS` judged
passages, or `MIN_EACH_SIDE` questions of each side for a threshold, a value is not fitted: the
report says how many more judgments it needs and the setting keeps its default. Why these
minimums: docs/question-log.md.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.evaluation.datasets import EvalQuestion, EvalSet, jsonl_question
from rag.evaluation.runner import Evaluation, RefusalRecord, capped_threshold
from rag.usage.export import documents_text_of, eval_row
from rag.usage.records import Judged

WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))
MIN_WEIGHT_QUESTIONS = 100
MIN_EACH_SIDE = 30
MAX_FALSE_REFUSALS = 0.05  # the share of should-be-answered questions a fitted threshold may refuse
RESAMPLES = 200
K = 5
THRESHOLD_FIELDS = {"rules": "min_confidence", "model": "reader_min_margin"}


@dataclass
class Choice:
    """One setting: the value chosen (None: kept), from how many questions, with what interval."""

    setting: str  # the dotted field of Settings
    current: float
    value: float | None = None
    n: int = 0
    interval: tuple[float, float] | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    why_kept: str = ""

    def line(self) -> str:
        if self.value is None:
            return f"{self.setting}: kept {self.current:g} ({self.why_kept})"
        lo, hi = self.interval or (self.value, self.value)
        shown = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in self.figures.items())
        return f"{self.setting}: {self.value:g} (was {self.current:g}; {self.n} questions; 95% bootstrap interval {lo:g}–{hi:g}; {shown})"


def _at_k(ranks: list[int], k: int = K) -> float:
    return float(bool(ranks) and min(ranks) <= k)


def _rr(ranks: list[int]) -> float:
    first = min(ranks) if ranks else None
    return 1.0 / first if first is not None and first <= 10 else 0.0


def _best_weight(hits: np.ndarray, rr: np.ndarray, rows: np.ndarray, current: float, by: str) -> int:
    """Index into WEIGHTS of the best `by` (MRR@10 or R@5) over `rows`; ties: the other, then the
    nearest to the weight in use."""
    recall, mrr = hits[:, rows].mean(axis=1), rr[:, rows].mean(axis=1)
    first, second = (mrr, recall) if by == "MRR@10" else (recall, mrr)
    return max(range(len(WEIGHTS)), key=lambda i: (round(first[i], 9), round(second[i], 9), -abs(WEIGHTS[i] - current)))


def _interval(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def fit_weight(evaluation: Evaluation, current: float, min_questions: int, resamples: int, seed: int, by: str = "MRR@10") -> Choice:
    """The fusion weight from the last (retrieval) run of `evaluation`."""
    choice = Choice("retrieval.dense_weight", current)
    per_weight = [evaluation.fused_ranks(w) for w in WEIGHTS]
    n = len(per_weight[0])
    choice.n = n
    if n < min_questions:
        choice.why_kept = f"{n} judged questions name a relevant passage, {min_questions} needed: {min_questions - n} more"
        return choice
    hits = np.array([[_at_k(r) for r in ranks] for ranks in per_weight])
    rr = np.array([[_rr(r) for r in ranks] for ranks in per_weight])
    everyone = np.arange(n)
    best = _best_weight(hits, rr, everyone, current, by)
    rng = np.random.default_rng(seed)
    chosen = [WEIGHTS[_best_weight(hits, rr, rng.integers(0, n, n), current, by)] for _ in range(resamples)]
    in_use = min(range(len(WEIGHTS)), key=lambda i: abs(WEIGHTS[i] - current))
    choice.value = WEIGHTS[best]
    choice.interval = _interval(chosen)
    choice.figures = {
        "MRR@10": float(rr[best].mean()),
        f"MRR@10 at {WEIGHTS[in_use]:g}": float(rr[in_use].mean()),
        f"R@{K}": float(hits[best].mean()),
        f"R@{K} at {WEIGHTS[in_use]:g}": float(hits[in_use].mean()),
    }
    return choice


def fit_threshold(
    reader: str, records: list[RefusalRecord], current: float, min_each: int, resamples: int, seed: int, max_false_refusals: float = MAX_FALSE_REFUSALS
) -> Choice:
    """A reader's refusal threshold from its records at the chosen weight (`capped_threshold`)."""
    choice = Choice(THRESHOLD_FIELDS[reader], current)
    answer = sum(r.answerable for r in records)
    refuse = len(records) - answer
    choice.n = len(records)
    if answer < min_each or refuse < min_each:
        more = [f"{min_each - have} more {what}" for have, what in ((answer, "that should be answered"), (refuse, "that should be refused")) if have < min_each]
        choice.why_kept = f"{answer} judged questions should be answered and {refuse} refused, {min_each} of each needed: {' and '.join(more)}"
        return choice
    best = capped_threshold(records, max_false_refusals)
    if best is None:
        choice.why_kept = f"no threshold refuses at most {max_false_refusals:.0%} of those that should be answered"
        return choice
    rng = random.Random(seed)
    chosen = []
    for _ in range(resamples):
        sample = rng.choices(records, k=len(records))
        found = capped_threshold(sample, max_false_refusals)
        if found is not None:
            chosen.append(found["threshold"])
    choice.value = round(best["threshold"], 4)
    choice.interval = _interval(chosen) if chosen else None
    choice.figures = {"refused (should be refused)": best["refusal_recall"], "false refusals": best["false_refusal"], "answer / refuse": f"{answer} / {refuse}"}
    return choice


@dataclass(frozen=True)
class Calibration:
    choices: list[Choice]
    judged: int  # judged questions read from the log
    left_out: int  # judged questions whose passage is no longer in the index
    unused: Counter = field(default_factory=Counter)  # judged questions whose judgment says neither side, by label (`wrong-answer`, `faq-answered`)

    @property
    def values(self) -> dict[str, float]:
        return {c.setting: c.value for c in self.choices if c.value is not None}


def calibrate(
    assistant,
    entries: list[Judged],
    *,
    readers: tuple[str, ...] = ("rules", "model"),
    min_questions: int = MIN_WEIGHT_QUESTIONS,
    min_each: int = MIN_EACH_SIDE,
    resamples: int = RESAMPLES,
    seed: int = 0,
    by: str = "MRR@10",
    max_false_refusals: float = MAX_FALSE_REFUSALS,
) -> Calibration:
    """Choose the weight, then each reader's threshold at that weight, from the judged `entries`."""
    from rag.assistant import Assistant

    text_of = documents_text_of(assistant.documents)
    judged = [j for j in entries if j.feedback is not None]
    unused = Counter(j.label for j in judged if j.should_answer is None)
    rows = [(j.question.id, eval_row(j, text_of)) for j in judged if j.should_answer is not None]
    left_out = sum(row is None for _, row in rows)
    questions = [jsonl_question(qid, row) for qid, row in rows if row is not None]
    corpus = Path(assistant.settings.index_dir)
    with_passage = EvalSet("log", corpus, tuple(q for q in questions if q.answerable and q.gold_docs), "jsonl")
    current = assistant.settings.retrieval.dense_weight
    weight = Choice("retrieval.dense_weight", current, n=len(with_passage.questions))
    if with_passage.questions:
        evaluation = Evaluation(with_passage, assistant, with_baselines=False, with_readers=False)
        evaluation.run()
        weight = fit_weight(evaluation, current, min_questions, resamples, seed, by)
    else:
        weight.why_kept = f"no judged question names a relevant passage, {min_questions} needed: {min_questions} more"
    choices = [weight]
    sided: list[EvalQuestion] = [q for q in questions]
    if weight.value is not None and weight.value != current:
        settings = assistant.settings
        settings = replace(settings, retrieval=replace(settings.retrieval, dense_weight=weight.value))
        assistant = Assistant(settings, embedder=assistant.embedder)
    evaluation = Evaluation(EvalSet("log", corpus, tuple(sided), "jsonl"), assistant, with_baselines=False, only_readers=readers)
    if sided:
        evaluation.run()
    for name in readers:
        if name not in THRESHOLD_FIELDS:
            continue
        reader = evaluation.readers().get(name)
        if reader is None:
            choices.append(Choice(THRESHOLD_FIELDS[name], float("nan"), why_kept=f"the {name} reader cannot be loaded"))
            continue
        choices.append(fit_threshold(name, evaluation.refusals.get(name, []), reader.threshold, min_each, resamples, seed, max_false_refusals))
    return Calibration(choices, len(judged), left_out, unused)
