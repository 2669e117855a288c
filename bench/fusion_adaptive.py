"""Does a per-question dense weight beat one fixed weight? (issue 18, the idea after pseudo-questions)

`collect` runs the product's two retrievers over a labelled set (the index `rag eval` builds, or
any index of the same corpus) and keeps, per answerable question, both sides' candidates with
their scores, which candidates are relevant, and label-free features of the question:

- `cov_bm25` / `cov_dense`: how much of the question's IDF mass (its characters and bigrams) the
  best BM25 / the best dense passage holds;
- `overlap`: how many of the two retrievers' top 10 agree; `dense_z`: how far the best dense score
  stands out of the other candidates.

`report` then scores, from those files and without re-running anything, fixed weights and
weights chosen per question from the features (`rules` below), R@1 / R@5 / MRR@10 per set.

    python bench/fusion_adaptive.py collect ../shared/data/cmrc2018/cmrc2018_dev.json --limit 600
    python bench/fusion_adaptive.py report bench/out/fusion/*.pkl
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.retrieve.fusion import minmax_fusion, stand_out  # noqa: E402

OUT = Path("bench/out/fusion")
DEPTH = 10


@dataclass
class Question:
    text: str
    union: np.ndarray  # candidate positions (both retrievers' top n)
    dense: np.ndarray  # their dense scores
    char: np.ndarray  # their BM25 scores
    dense_top: np.ndarray  # each side's own top-n scores (the min-max range)
    char_top: np.ndarray
    relevant: np.ndarray  # bool per union candidate
    features: dict[str, float]


def coverage(terms: list[str], idf: dict[str, float], text_terms: set[str]) -> float:
    total = sum(idf[t] for t in terms)
    return sum(idf[t] for t in terms if t in text_terms) / total if total > 0 else 0.0


def collect(args) -> None:
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.embedding import Embedder
    from rag.evaluation.datasets import load_dataset
    from rag.indexing.build import build_index
    from rag.store import index_backends
    from rag.text.segment import char_bigrams

    workdir = Path("bench/out/eval")
    evalset = load_dataset(Path(args.dataset), Path(args.corpus) if args.corpus else None, workdir, args.limit, args.distractors)
    settings = Settings.from_env()
    index_dir = Path(args.index) if args.index else workdir / f"index-{evalset.corpus.name}-c{settings.chunk.size}o{settings.chunk.overlap}"
    settings = replace(settings, index_dir=index_dir)
    embedder = Embedder.from_settings(settings, index_backends(settings))
    build_index([evalset.corpus], settings, embedder)
    assistant = Assistant(settings, embedder=embedder)
    retriever = assistant.retriever
    chunks = assistant.data.chunks
    titles = {d: doc.title for d, doc in assistant.data.documents.items()}
    n = retriever.settings.candidates
    out: list[Question] = []
    for q in evalset.questions:
        if not q.answerable:
            continue
        vector = retriever.encode_query(q.question)
        dense_ids, sims = retriever.dense(vector, n)
        char_ids, char_top = retriever.lexical(q.question, n)
        union, union_dense = retriever.union_scores(vector, dense_ids, sims, char_ids)
        union_char = retriever.lexical_scores(q.question, union)
        relevant = np.array([evalset.is_relevant(q, chunks[int(i)], titles[chunks[int(i)].doc_id]) for i in union], dtype=bool)
        terms = list(dict.fromkeys(char_bigrams(q.question)))
        idf = {t: retriever.snapshot.idf(t) for t in terms}
        features = {"overlap": len(set(map(int, dense_ids[:10])) & set(map(int, char_ids[:10]))) / 10.0}
        features["cov_bm25"] = coverage(terms, idf, set(char_bigrams(chunks[int(char_ids[0])].text))) if len(char_ids) else 0.0
        features["cov_dense"] = coverage(terms, idf, set(char_bigrams(chunks[int(dense_ids[0])].text))) if len(dense_ids) else 0.0
        features["dense_z"] = stand_out(sims)
        out.append(Question(q.question, union, union_dense, union_char, sims, char_top, relevant, features))
    OUT.mkdir(parents=True, exist_ok=True)
    target = Path(args.out) if args.out else OUT / f"{evalset.name}{'-' + str(args.limit) if args.limit else ''}.pkl"
    target.write_bytes(pickle.dumps({"name": evalset.name, "chunks": len(chunks), "questions": out}))
    print(f"{target}: {len(out)} answerable questions, {len(chunks)} chunks")


def first_relevant(q: Question, w: float) -> int | None:
    fused = minmax_fusion(q.union, [(q.dense, q.dense_top, w), (q.char, q.char_top, 1.0 - w)])
    order = sorted(range(len(q.union)), key=lambda j: -fused[int(q.union[j])])[:DEPTH]
    return next((rank for rank, j in enumerate(order, start=1) if q.relevant[j]), None)


def scores(questions: list[Question], weight_of) -> tuple[float, float, float]:
    ranks = [first_relevant(q, weight_of(q)) for q in questions]
    r1 = sum(r is not None and r <= 1 for r in ranks) / len(ranks)
    r5 = sum(r is not None and r <= 5 for r in ranks) / len(ranks)
    mrr = sum(1.0 / r for r in ranks if r is not None) / len(ranks)
    return r1, r5, mrr


def by_coverage(low: float, high: float, centre: float, slope: float):
    """Dense weight `high` when the best BM25 passage holds little of the question, `low` when it
    holds most of it, a logistic step between them around `centre`."""

    def weight(q: Question) -> float:
        x = q.features["cov_bm25"]
        return low + (high - low) / (1.0 + math.exp((x - centre) / slope))

    return weight


def gap(top: np.ndarray) -> float:
    """How far a side's best score stands out: (best - second) / (best - lowest of its top n)."""
    return float((top[0] - top[1]) / (top[0] - top[-1])) if len(top) > 2 and top[0] > top[-1] else 0.0


def by_peaks(slope: float, centre: float = 0.5, lowest: float = 0.1):
    """More dense weight when the best dense score stands out of its candidates more than the best
    BM25 score does, less when BM25's stands out more: centre + slope * (dense gap - BM25 gap)."""

    def weight(q: Question) -> float:
        return min(max(centre + slope * (gap(q.dense_top) - gap(q.char_top)), lowest), 1.0 - lowest)

    return weight


def load(spec: str) -> dict:
    """`FILE.pkl` or `FILE.pkl@START:END` (a slice of its questions, e.g. to tune on one half)."""
    path, _, part = spec.partition("@")
    data = pickle.loads(Path(path).read_bytes())
    if part:
        start, end = (int(x) if x else None for x in part.split(":"))
        data["questions"] = data["questions"][start:end]
        data["name"] += f"[{part}]"
    return data


FIXED = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def tune(args) -> None:
    """The coverage rule's parameters that lose least R@5 (mean over the sets) to each set's best
    fixed weight; MRR@10 breaks ties."""
    sets = [load(p) for p in args.files]
    best = [max(scores(s["questions"], lambda q, w=w: w)[1] for w in FIXED) for s in sets]
    results = []
    for low in (0.1, 0.2, 0.3, 0.4):
        for high in (0.5, 0.6, 0.7, 0.8):
            for centre in (0.2, 0.3, 0.4, 0.5):
                for slope in (0.03, 0.05, 0.1):
                    got = [scores(s["questions"], by_coverage(low, high, centre, slope)) for s in sets]
                    regret = sum(b - g[1] for b, g in zip(best, got)) / len(sets)
                    mrr = sum(g[2] for g in got) / len(sets)
                    results.append((regret, -mrr, (low, high, centre, slope), got))
    results.sort(key=lambda r: r[:2])
    print("best fixed R@5 per set: " + ", ".join(f"{s['name']} {b:.3f}" for s, b in zip(sets, best)))
    for regret, neg_mrr, params, got in results[:10]:
        print(f"{params}: mean R@5 regret {regret:.4f}, mean MRR {-neg_mrr:.4f}; " + ", ".join(f"{g[1]:.3f}" for g in got))


def report(args) -> None:
    sets = [load(p) for p in args.files]
    rules: dict[str, object] = {f"fixed {w:.1f}": (lambda q, w=w: w) for w in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0)}
    for low, high, centre, slope in args.grid or ():
        rules[f"cov {low}-{high} @{centre}/{slope}"] = by_coverage(low, high, centre, slope)
    for slope in args.peaks or ():
        rules[f"peaks {slope}"] = by_peaks(slope)
    header = "| rule | " + " | ".join(f"{s['name']} R@1 / R@5 / MRR" for s in sets) + " |"
    print(header)
    print("|---|" + "---|" * len(sets))
    for name, rule in rules.items():
        cells = []
        for s in sets:
            r1, r5, mrr = scores(s["questions"], rule)
            cells.append(f"{r1:.3f} / {r5:.3f} / {mrr:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for s in sets:
        feats = np.array([[q.features[k] for k in ("cov_bm25", "cov_dense", "overlap", "dense_z")] for q in s["questions"]])
        medians = ", ".join(f"{k} {np.median(feats[:, n]):.2f}" for n, k in enumerate(("cov_bm25", "cov_dense", "overlap", "dense_z")))
        print(f"{s['name']}: median {medians}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("dataset")
    c.add_argument("--corpus")
    c.add_argument("--limit", type=int)
    c.add_argument("--distractors", type=int)
    c.add_argument("--index")
    c.add_argument("--out")
    r = sub.add_parser("report")
    r.add_argument("files", nargs="+")
    r.add_argument("--grid", type=lambda s: tuple(map(float, s.split(","))), action="append", help="low,high,centre,slope")
    r.add_argument("--peaks", type=float, action="append", help="slope of the gap rule")
    t = sub.add_parser("tune")
    t.add_argument("files", nargs="+")
    args = parser.parse_args()
    {"collect": collect, "report": report, "tune": tune}[args.command](args)


if __name__ == "__main__":
    main()
