"""How the two rankings are fused into one, and how far a best score stands out.

Default ("minmax"): each retriever's scores are min-max normalised over its own top n (the lowest
of them → 0, its best → 1) and combined as w * dense + (1 - w) * bm25. A candidate that only one
retriever ranks in its top n gets its real score from the other, normalised by the same range, so
it lands below 0 there by how far it lies behind (at most one range: FUSION_FLOOR), instead of
every such candidate counting as 0 (LeCoQA R@5 0.568 → 0.571). It beat weighted reciprocal-rank
fusion ("rrf": w / (k + rank_dense) + (1 - w) / (k + rank_bm25)) on both CMRC and LeCoQA because it
keeps how far ahead the best candidates are, which ranks throw away. The weight is a measured,
per-corpus setting (docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np


def stand_out(scores: np.ndarray) -> float:
    """How far the best of scores sorted best first stands out of the others, in their standard
    deviations (a z-score); 0 with fewer than 3."""
    if len(scores) < 3:
        return 0.0
    rest = scores[1:]
    return float((scores[0] - rest.mean()) / max(float(rest.std()), 1e-6))


# How far below a side's top-n range a candidate can fall, in ranges: without a floor, a side whose
# few matches score alike (BM25 5.00 and 4.99) would push a candidate it does not match hundreds of
# ranges down, below everything (LeCoQA: floors of -0.5 to -3 and none give the same recall).
FUSION_FLOOR = -1.0


def minmax_fusion(ids: np.ndarray, sides: list[tuple[np.ndarray, np.ndarray, float]]) -> dict[int, float]:
    """ids: every candidate; sides: (the candidates' scores on that side, that side's own top-n
    scores, which set its normalisation range: their lowest → 0, their best → 1; weight) per
    retriever → fused score per id. A side with no top n (BM25 matched nothing) adds nothing."""
    fused = np.zeros(len(ids), dtype=np.float64)
    for scores, top, weight in sides:
        if len(top) == 0:
            continue
        lo, span = float(top.min()), float(top.max() - top.min())
        norm = (scores - lo) / span if span > 0 else (scores >= lo).astype(np.float64)
        fused += weight * np.maximum(norm, FUSION_FLOOR)
    return dict(zip(map(int, ids), map(float, fused)))


def weighted_rrf(rankings: list[tuple[np.ndarray, float]], rrf_k: int, missing_rank: int) -> dict[int, float]:
    fused: dict[int, float] = {}
    everyone = {int(i) for ranking, _ in rankings for i in ranking}
    for ranking, weight in rankings:
        position = {int(i): r for r, i in enumerate(ranking, start=1)}
        for i in everyone:
            fused[i] = fused.get(i, 0.0) + weight / (rrf_k + position.get(i, missing_rank))
    return fused
