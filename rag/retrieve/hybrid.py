"""Hybrid retrieval: dense (inner product on e5 vectors) and BM25, asked of the store, fused by
fusion.py (min-max normalised scores by default, weighted reciprocal ranks as the alternative).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rag.config import RetrievalSettings
from rag.retrieve.fusion import minmax_fusion, stand_out, weighted_rrf
from rag.store.base import Hits, Snapshot
from rag.types import Passage


@dataclass
class StageTimer:
    """Seconds spent per stage of one query, and its query vector (for the evaluation and the
    latency benchmark). Each call gets its own, so concurrent queries do not share one."""

    seconds: dict[str, float] = field(default_factory=dict)
    query_vector: np.ndarray | None = None

    def record(self, stage: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - started
        return now


class HybridRetriever:
    """Both sides of one store snapshot, fused. Candidates are positions in `snapshot.chunks`."""

    def __init__(self, snapshot: Snapshot, encode_query: Callable[[str], np.ndarray], settings: RetrievalSettings = RetrievalSettings()) -> None:
        self.snapshot = snapshot
        self.chunks = snapshot.chunks
        self.encode_query = encode_query
        self.settings = settings

    def _positions(self, hits: Hits) -> np.ndarray:
        return np.fromiter((self.snapshot.position(c) for c in hits.ids), dtype=np.int64, count=len(hits.ids))

    def _ids(self, positions: np.ndarray) -> list[str]:
        return [self.chunks[int(i)].chunk_id for i in positions]

    def dense(self, query_vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, inner products) of the n nearest chunks, best first."""
        hits = self.snapshot.dense(query_vector, n)
        return self._positions(hits), np.asarray(hits.scores, dtype=np.float32)

    def lexical(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, BM25 scores) of the n best-matching chunks (score > 0), best first."""
        hits = self.snapshot.lexical(query, n)
        return self._positions(hits), np.asarray(hits.scores, dtype=np.float32)

    def lexical_scores(self, query: str, positions: np.ndarray) -> np.ndarray:
        return np.asarray(self.snapshot.lexical_scores(query, self._ids(positions)), dtype=np.float32)

    def union_scores(self, query_vector: np.ndarray, dense_ids: np.ndarray, dense_sims: np.ndarray, lexical_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both retrievers' candidates (sorted positions), and the dense score of each: from the
        search where it was found there, else the inner product with its stored vector."""
        return _merged(dense_ids, dense_sims, lexical_ids, lambda missing: self.snapshot.dense_scores(query_vector, self._ids(missing)))

    def search(self, query: str, k: int | None = None, mode: str = "hybrid", dense_weight: float | None = None) -> list[Passage]:
        """Top-k passages for the query. mode: "hybrid", "dense" or "bm25"."""
        return self.search_with_stats(query, k, mode, dense_weight)[0]

    def search_with_stats(
        self,
        query: str,
        k: int | None = None,
        mode: str = "hybrid",
        dense_weight: float | None = None,
        timer: StageTimer | None = None,
    ) -> tuple[list[Passage], float]:
        """Passages, and how far the best dense score stands out of the candidates' scores (a z-score).

        e5's cosines are compressed (unrelated text still scores ~0.83), so the absolute score says
        little; a best passage that stands out from the rest says the question is on topic.
        `timer`, when given, receives the seconds per stage and the query vector."""
        if mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"unknown search mode {mode!r}: hybrid, dense or bm25")
        k = k or self.settings.top_k
        n = max(self.settings.candidates, k)
        timer = timer if timer is not None else StageTimer()
        started = time.perf_counter()

        dense_ids, sims = np.zeros(0, np.int64), np.zeros(0, np.float32)
        dense_scores: dict[int, float] = {}
        dense_z = 0.0
        vector = None
        if mode in ("hybrid", "dense"):
            vector = self.encode_query(query)
            timer.query_vector = vector
            started = timer.record("embed", started)
            dense_ids, sims = self.dense(vector, n)
            dense_scores = {int(i): float(s) for i, s in zip(dense_ids, sims)}
            dense_z = stand_out(sims)
            started = timer.record("dense", started)

        lexical_scores: dict[int, float] | None = None
        lexical_ids, lexical_top = np.zeros(0, np.int64), np.zeros(0, np.float32)
        if mode in ("hybrid", "bm25"):
            lexical_ids, lexical_top = self.lexical(query, n)
            lexical_scores = {int(i): float(s) for i, s in zip(lexical_ids, lexical_top)}
            started = timer.record("bm25", started)

        if mode == "dense":
            fused = {int(i): dense_scores[int(i)] for i in dense_ids}
        elif mode == "bm25":
            fused = dict(lexical_scores or {})
        else:
            assert vector is not None and lexical_scores is not None
            w = self.settings.dense_weight if dense_weight is None else dense_weight
            if self.settings.fusion == "rrf":
                fused = weighted_rrf([(dense_ids, w), (lexical_ids, 1.0 - w)], self.settings.rrf_k, n + 1)
            else:
                ids, dense_all = self.union_scores(vector, dense_ids, sims, lexical_ids)
                lexical_all = _merged(lexical_ids, lexical_top, dense_ids, lambda missing: self.lexical_scores(query, missing))[1]
                dense_scores = dict(zip(map(int, ids), map(float, dense_all)))  # each passage gets its dense score
                lexical_scores = dict(zip(map(int, ids), map(float, lexical_all)))
                fused = minmax_fusion(ids, [(dense_all, sims, w), (lexical_all, lexical_top, 1.0 - w)])
        order = sorted(fused, key=lambda i: -fused[i])[:k]  # ties: minmax candidates come in chunk order
        passages = [
            Passage(
                chunk=self.chunks[i],
                score=fused[i],
                dense_score=dense_scores.get(i),
                lexical_score=None if lexical_scores is None else lexical_scores.get(i, 0.0),
                rank=rank,
            )
            for rank, i in enumerate(order, start=1)
        ]
        timer.record("fusion", started)
        return passages, dense_z


def _merged(
    found_ids: np.ndarray, found_scores: np.ndarray, other_ids: np.ndarray, score_missing: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The union of two candidate lists (sorted), with one side's score for each: from that side's
    search where it found the candidate, else computed by `score_missing` for the rest."""
    ids = np.union1d(found_ids, other_ids).astype(np.int64)
    scores = np.empty(len(ids), dtype=np.float64)
    found = np.isin(ids, found_ids)
    order = np.argsort(found_ids)
    scores[found] = np.asarray(found_scores)[order][np.searchsorted(np.asarray(found_ids)[order], ids[found])]
    if not found.all():
        scores[~found] = score_missing(ids[~found])
    return ids, scores
