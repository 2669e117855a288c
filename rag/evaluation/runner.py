"""Run a dataset through the product pipeline and the baselines, on the same chunks, in one run.

Systems: `product` (hybrid: e5 + character-bigram BM25, min-max score fusion, then the extractive answer
by each reader: the trained model and the rules, side by side),
`bm25-jieba`, `bm25-char` (unigrams + bigrams), `dense` (e5 only). The query is embedded once and
shared. Rankings are kept so fusion weights can be swept offline (`sweep`).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rag.evaluation.datasets import EvalQuestion, EvalSet
from rag.evaluation.metrics import AnswerScores, RetrievalScores, answer_text_for_scoring, best_over, char_f1, contains, exact_match
from rag.ingest.chunking import embedding_text
from rag.read import open_reader
from rag.read.question import analyse_question
from rag.retrieve.fusion import minmax_fusion, weighted_rrf
from rag.retrieve.hybrid import StageTimer
from rag.store.base import top_indices
from rag.store.bm25 import BM25

DEPTH = 20


@dataclass
class Rankings:
    dense: list[np.ndarray] = field(default_factory=list)
    dense_scores: list[np.ndarray] = field(default_factory=list)
    char: list[np.ndarray] = field(default_factory=list)
    char_scores: list[np.ndarray] = field(default_factory=list)
    jieba: list[np.ndarray] = field(default_factory=list)
    union: list[np.ndarray] = field(default_factory=list)  # both retrievers' candidates
    union_dense: list[np.ndarray] = field(default_factory=list)  # their dense scores
    union_char: list[np.ndarray] = field(default_factory=list)  # their BM25 scores


@dataclass(frozen=True)
class RefusalRecord:
    """One question's answer as the refusal sweep needs it."""

    answerable: bool
    confidence: float
    always_refused: bool  # refused whatever the threshold (its passages share no word with it)
    hit: bool  # the answer it gets when not refused holds a reference
    f1: float

    def refused_at(self, threshold: float) -> bool:
        """As both readers decide: refused below the threshold, answered at it."""
        return self.always_refused or self.confidence < threshold


def _refused_below(group: list[RefusalRecord], thresholds: np.ndarray) -> np.ndarray:
    """How many of `group` each threshold refuses (`refused_at`, for all thresholds at once:
    calibration from a log bootstraps this hundreds of times)."""
    always = sum(r.always_refused for r in group)
    confidences = np.sort([r.confidence for r in group if not r.always_refused])
    return always + np.searchsorted(confidences, thresholds, side="left")


@dataclass(frozen=True)
class _Sweep:
    """Every threshold worth trying (the middles of the intervals between two questions'
    confidences) and how many answerable and unanswerable questions each refuses."""

    answerable: int
    unanswerable: int
    widths: np.ndarray
    thresholds: np.ndarray
    refused: np.ndarray  # unanswerable questions refused at each threshold
    false: np.ndarray  # answerable questions refused at each threshold

    @classmethod
    def of(cls, records: list[RefusalRecord]) -> _Sweep | None:
        """None without both kinds of question."""
        answerable = [r for r in records if r.answerable]
        unanswerable = [r for r in records if not r.answerable]
        scores = sorted({r.confidence for r in records if not r.always_refused and math.isfinite(r.confidence)})
        if not answerable or not unanswerable or not scores:
            return None
        edges = np.array([scores[0] - 0.01, *scores, scores[-1] + 0.01])
        mids = (edges[:-1] + edges[1:]) / 2
        return cls(len(answerable), len(unanswerable), np.diff(edges), mids, _refused_below(unanswerable, mids), _refused_below(answerable, mids))

    def at(self, n: int) -> dict[str, float]:
        refused, false = int(self.refused[n]), int(self.false[n])
        return {"threshold": float(self.thresholds[n]), "refusal_recall": refused / self.unanswerable, "false_refusal": false / self.answerable}


def balanced_threshold(records: list[RefusalRecord]) -> dict[str, float] | None:
    """The threshold where refused unanswerable questions minus false refusals is highest: the
    middle of the widest such interval between two questions' confidences (how the rule reader's
    defaults were calibrated per encoder backend). None without both kinds of question."""
    sweep = _Sweep.of(records)
    if sweep is None:
        return None
    # refused/|unanswerable| - false/|answerable|, compared exactly: floats would break ties by rounding
    balance = sweep.refused * sweep.answerable - sweep.false * sweep.unanswerable
    # the best balance, then the widest interval, then the first (lowest) such interval
    return sweep.at(int(np.lexsort((np.arange(len(balance)), -sweep.widths, -balance))[0]))


def capped_threshold(records: list[RefusalRecord], max_false_refusals: float) -> dict[str, float] | None:
    """The threshold refusing the most unanswerable questions while refusing at most
    `max_false_refusals` (a share) of the answerable ones: the middle of the highest interval
    between two questions' confidences that stays under the cap. A product's rule: a user who gets
    no answer to a question the documents do answer is worse served than one who gets a wrong
    answer marked with its citation, so false refusals are bounded first. None without both kinds
    of question, or when even the lowest threshold refuses more than the cap."""
    sweep = _Sweep.of(records)
    if sweep is None:
        return None
    allowed = np.flatnonzero(sweep.false <= max_false_refusals * sweep.answerable)
    # refusals only grow with the threshold: the highest allowed refuses the most
    return sweep.at(int(allowed[-1])) if len(allowed) else None


def _hit_and_f1(answer, references: tuple[str, ...]) -> tuple[bool, float]:
    """Whether the answer text holds a reference, and the character F1 of its span (False, 0 when refused)."""
    if answer.refused:
        return False, 0.0
    predicted = answer_text_for_scoring(answer.span, answer.text)
    return any(contains(answer.text, r) for r in references), best_over(char_f1, predicted, references)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {"p50": statistics.median(ordered), "p95": ordered[int(0.95 * (len(ordered) - 1))]}


class Evaluation:
    def __init__(self, evalset: EvalSet, assistant, with_baselines: bool = True, with_readers: bool = True, only_readers: tuple[str, ...] = ()) -> None:
        self.set = evalset
        self.with_readers = with_readers
        self.only_readers = only_readers  # () : the reader in use and the other one; else these alone
        self.assistant = assistant
        data = assistant.data
        self.chunks = data.chunks
        self.titles = {d: doc.title for d, doc in data.documents.items()}
        self.index_of = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.misses: list[tuple[str, str, str]] = []  # answer text lacks every reference
        self.weak_spans: list[tuple[str, str, str]] = []  # right sentence, span F1 < 0.5
        self.refusals: dict[str, list[RefusalRecord]] = {}  # per reader, per question, for the refusal sweep
        self._readers: dict[str, Any] | None = None  # see readers()
        self.jieba = None
        if with_baselines:
            texts = [embedding_text(c, self.titles[c.doc_id]) for c in self.chunks]
            self.jieba = BM25.build(texts, segmenter="jieba")

    def _ranks(self, q: EvalQuestion, ids) -> list[int]:
        return [r for r, i in enumerate(ids, start=1) if self.set.is_relevant(q, self.chunks[int(i)], self.titles[self.chunks[int(i)].doc_id])]

    def readers(self) -> dict[str, Any]:
        """The reader in use first, then the other one beside it (the model when its weights load)."""
        if self._readers is None and not self.with_readers:
            self._readers = {}
        if self._readers is None:
            assistant = self.assistant
            readers: dict[str, Any] = {assistant.reader.name: assistant.reader}
            readers.setdefault(assistant.rule_reader.name, assistant.rule_reader)
            if "model" not in readers and (not self.only_readers or "model" in self.only_readers):
                model, _ = open_reader(replace(assistant.settings, reader="model"), assistant.documents, assistant.rule_reader)
                if model.name == "model":
                    readers["model"] = model
            self._readers = {name: r for name, r in readers.items() if not self.only_readers or name in self.only_readers}
        return self._readers

    def run(self) -> dict:
        retriever = self.assistant.retriever
        readers = self.readers()
        systems = {name: RetrievalScores() for name in ("product", "bm25-char", "dense") + (("bm25-jieba",) if self.jieba else ())}
        if "model" in readers:
            systems["product+reader"] = RetrievalScores()  # passages re-ranked by the reader's margins
        all_answers = {name: AnswerScores() for name in readers}
        stages: dict[str, list[float]] = {
            s: [] for s in ("embed", "dense", "bm25", "fusion") + tuple(f"answer:{n}" for n in readers) + tuple(f"total:{n}" for n in readers)
        }
        self.rankings = Rankings()
        self.refusals = {name: [] for name in readers}
        w = retriever.settings.dense_weight
        # the same readers without a threshold: the answer a question gets when not refused
        unconditional = {name: r.with_threshold(float("-inf")) for name, r in readers.items()}
        top_k = self.assistant.settings.retrieval.top_k
        for q in self.set.questions:
            started = time.perf_counter()
            timer = StageTimer()
            passages, dense_z = retriever.search_with_stats(q.question, k=DEPTH, timer=timer)
            retrieved = time.perf_counter()
            answers, guesses, support = {}, None, 0.0
            question = analyse_question(q.question)  # once, for every reader
            for name, reader in readers.items():
                t_answer = time.perf_counter()
                if name == "model":  # read once: the answer, the re-ranking and the unthresholded answer share it
                    guesses = reader.read(q.question, list(passages[: min(top_k, reader.settings.passages)]), question)
                    support = reader.support(q.question, passages[:top_k], guesses, question=question)
                    answers[name] = reader.compose(q.question, passages[:top_k], guesses, support, question)
                else:
                    answers[name] = reader.answer(q.question, passages[:top_k], dense_z=dense_z, question=question)
                done = time.perf_counter()
                stages[f"answer:{name}"].append(1000 * (done - t_answer))
                stages[f"total:{name}"].append(1000 * (retrieved - started + done - t_answer))
            for stage, secs in timer.seconds.items():
                stages[stage].append(1000 * secs)

            product_ids = [self.index_of[p.chunk.chunk_id] for p in passages]
            depth = retriever.settings.candidates
            dense_ids, dense_sims = retriever.dense(timer.query_vector, depth)
            char_ids, char_top = retriever.lexical(q.question, depth)
            self.rankings.dense.append(dense_ids)
            self.rankings.dense_scores.append(dense_sims)
            self.rankings.char.append(char_ids)
            self.rankings.char_scores.append(char_top)
            union, union_dense = retriever.union_scores(timer.query_vector, dense_ids, dense_sims, char_ids)
            self.rankings.union.append(union)
            self.rankings.union_dense.append(union_dense)
            self.rankings.union_char.append(retriever.lexical_scores(q.question, union))
            if q.answerable:  # unanswerable questions have nothing to retrieve
                systems["product"].add(self._ranks(q, product_ids))
                if "product+reader" in systems:
                    model = readers["model"]
                    n_read = min(top_k, model.settings.passages)
                    chosen = [g for _, g in model.ranked(guesses or [], list(passages[:n_read]))]
                    systems["product+reader"].add(self._ranks(q, self._reranked(chosen, n_read, product_ids)))
                systems["bm25-char"].add(self._ranks(q, char_ids[:DEPTH]))
                systems["dense"].add(self._ranks(q, dense_ids[:DEPTH]))
            if self.jieba:
                js = self.jieba.scores(q.question)
                jieba_ids = top_indices(js, DEPTH)
                jieba_ids = jieba_ids[js[jieba_ids] > 0]
                self.rankings.jieba.append(jieba_ids)
                if q.answerable:
                    systems["bm25-jieba"].add(self._ranks(q, jieba_ids))
            if self.set.kind != "lecoqa":
                for name, answer in answers.items():
                    self._score_answer(q, answer, all_answers[name], record_misses=name == next(iter(readers)))
                    if answer.refused and name == "model":
                        answer = unconditional[name].compose(q.question, passages[:top_k], guesses, support, question)
                    elif answer.refused:
                        answer = unconditional[name].answer(q.question, passages[:top_k], dense_z=dense_z, question=question)
                    self.refusals[name].append(RefusalRecord(q.answerable, answer.confidence, answer.refused, *_hit_and_f1(answer, q.answers)))
        result = {"dataset": self.set.name, "questions": len(self.set.questions), "chunks": len(self.chunks), "dense_weight": w}
        result["readers"] = {name: r.threshold for name, r in readers.items()}
        result["retrieval"] = {name: s.summary() for name, s in systems.items()}
        if self.set.kind != "lecoqa" and readers:
            result["answers"] = {name: a.summary() for name, a in all_answers.items()}
        result["latency_ms"] = {stage: _percentiles(v) for stage, v in stages.items() if v}
        return result

    @staticmethod
    def _reranked(guesses, n: int, product_ids) -> list[int]:
        """Product ranking with the `n` passages the reader read re-ordered as the reader ranks its
        spans (margin + passage weight × retrieval score: the passage its answer would cite first,
        whatever the threshold), the others after in their retrieval order."""
        order = list(dict.fromkeys(g.passage for g in guesses))
        order += [i for i in range(min(n, len(product_ids))) if i not in order]
        return [product_ids[i] for i in order] + list(product_ids[n:])

    def _score_answer(self, q: EvalQuestion, answer, scores: AnswerScores, record_misses: bool = True) -> None:
        if answer.refused:
            scores.refused_total += 1
        if not q.answerable:
            scores.unanswerable += 1
            scores.refused_unanswerable += int(answer.refused)
            return
        scores.answerable += 1
        if answer.refused:
            scores.false_refusals += 1
            return
        scores.answered += 1
        predicted = answer_text_for_scoring(answer.span, answer.text)
        hit, f1 = _hit_and_f1(answer, q.answers)
        if record_misses and not hit:
            self.misses.append((q.question, (q.answers or ("",))[0], answer.text[:120]))  # a JSONL row may name no answer
        elif record_misses and f1 < 0.5:
            self.weak_spans.append((q.question, q.answers[0], predicted))
        scores.hit += int(hit)
        scores.all_strings += int(all(contains(answer.text, r) for r in q.answers))
        scores.em += best_over(exact_match, predicted, q.answers)
        scores.f1 += f1
        scores.length += len(predicted)
        scores.cited_right += int(any(contains(c.passage.chunk.text, r) for c in answer.citations for r in q.answers))

    def sweep(self, weights: list[float], rrf_ks: tuple[int, ...] = (10, 60)) -> dict[str, dict[str, float]]:
        """Recall/MRR of min-max score fusion and of weighted RRF (several constants) for other
        dense weights, from the stored candidate lists."""
        configs = [("minmax", w, 0) for w in weights] + [("rrf", w, k) for k in rrf_ks for w in weights]
        out = {}
        for mode, w, rrf_k in configs:
            scores = RetrievalScores()
            for ranks in self.fused_ranks(w, mode, rrf_k):
                scores.add(ranks)
            out[f"{mode} w={w}" + (f" k={rrf_k}" if mode == "rrf" else "")] = scores.summary()
        return out

    def fused_ranks(self, w: float, mode: str = "minmax", rrf_k: int = 60) -> list[list[int]]:
        """For each answerable question of the last run, the 1-based ranks of its relevant passages
        had the dense weight been `w` (from the stored candidate lists: nothing is searched again)."""
        retriever = self.assistant.retriever
        r = self.rankings
        out = []
        for n, q in enumerate(self.set.questions):
            if not q.answerable:
                continue
            if mode == "rrf":
                fused = weighted_rrf([(r.dense[n], w), (r.char[n], 1 - w)], rrf_k, retriever.settings.candidates + 1)
            else:
                fused = minmax_fusion(r.union[n], [(r.union_dense[n], r.dense_scores[n], w), (r.union_char[n], r.char_scores[n], 1 - w)])
            order = sorted(fused, key=lambda i: -fused[i])[:DEPTH]
            out.append(self._ranks(q, order))
        return out

    def balanced_threshold(self, reader: str | None = None) -> dict[str, float] | None:
        """See `balanced_threshold` (module level), for one reader of the last run."""
        return balanced_threshold(self.refusals.get(reader or next(iter(self.readers())), []))

    def refusal_sweep(self, reader: str | None = None, thresholds: tuple[float, ...] | None = None) -> dict[str, dict[str, float]]:
        """Refusal of unanswerable questions, false refusals, hit rate and F1 of answerable ones, had
        the reader's threshold (RAG_READER_MIN_MARGIN, RAG_MIN_CONFIDENCE) been each of
        `thresholds` or the one in use."""
        readers = self.readers()
        reader = reader or next(iter(readers))
        in_use = readers[reader].threshold
        thresholds = thresholds or readers[reader].sweep_thresholds
        if reader not in self.refusals:
            raise ValueError("refusal_sweep needs run() first")
        answerable = [r for r in self.refusals[reader] if r.answerable]
        unanswerable = [r for r in self.refusals[reader] if not r.answerable]
        out = {}
        for t in sorted({*thresholds, in_use}):
            answered = [r for r in answerable if not r.refused_at(t)]
            out[f"{t:g}"] = {
                "refusal_recall": sum(r.refused_at(t) for r in unanswerable) / max(len(unanswerable), 1),
                "false_refusal": (len(answerable) - len(answered)) / max(len(answerable), 1),
                "hit": sum(r.hit for r in answered) / max(len(answerable), 1),
                "F1": 100 * sum(r.f1 for r in answered) / max(len(answerable), 1),
            }
        return out
