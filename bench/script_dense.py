"""Which script should the dense side see? Dense recall with passages and questions embedded as
written, or both folded to simplified (script.fold), for questions asked in either script.

    python bench/script_dense.py ../shared/data/drcd/DRCD_dev.json --index bench/out/eval/index-corpus-DRCD_dev-titled-c300o60 --limit 600

The index is one `rag eval` built for the same SQuAD-style file (its vectors are the "as written"
passages; the folded passages are embedded here). Prints dense R@1 / R@5 / MRR@10 per condition.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.embedding import Embedder  # noqa: E402
from rag.ingest.chunking import embedding_text  # noqa: E402
from rag.store.files import read_index, stored_vectors  # noqa: E402
from rag.text.script import convert, fold  # noqa: E402


def questions(path: Path, limit: int) -> list[tuple[str, str]]:
    """(question, gold document id) in file order, as `rag eval` numbers them."""
    out = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            doc_id = f"{paragraph['id']}.md"
            out.extend((qa["question"], doc_id) for qa in paragraph["qas"])
    return out[:limit]


def recall(query_vectors: np.ndarray, passage_vectors: np.ndarray, doc_of: list[str], gold: list[str]) -> dict[str, float]:
    scores = query_vectors @ passage_vectors.T
    top = np.argsort(-scores, axis=1)[:, :10]
    r1 = r5 = mrr = 0.0
    for row, g in zip(top, gold):
        ranks = [i for i, c in enumerate(row, start=1) if doc_of[c] == g]
        first = ranks[0] if ranks else None
        r1 += first == 1
        r5 += bool(first and first <= 5)
        mrr += 1.0 / first if first else 0.0
    n = len(gold)
    return {"R@1": r1 / n, "R@5": r5 / n, "MRR@10": mrr / n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--index", required=True)
    parser.add_argument("--limit", type=int, default=600)
    args = parser.parse_args()
    data = read_index(Path(args.index), check_format=False, verify=False)
    qs = questions(Path(args.dataset), args.limit)
    known = set(data.documents)
    qs = [(q, d) for q, d in qs if d in known]
    embedder = Embedder()
    texts = [embedding_text(c, data.documents[c.doc_id].title) for c in data.chunks]
    doc_of = [c.doc_id for c in data.chunks]
    as_written = stored_vectors(data)
    print(f"embedding {len(texts)} folded passages…", file=sys.stderr)
    folded = embedder.encode_passages([fold(t) for t in texts], show_progress=True)
    gold = [d for _, d in qs]
    print(f"| {Path(args.dataset).name}, {len(qs)} questions | passages as written | passages folded |\n|---|---|---|")
    for script in ("asis", "s", "t"):
        asked = [convert(q, script) for q, _ in qs]
        raw_q = embedder.encode_queries(asked)
        fold_q = embedder.encode_queries([fold(q) for q in asked])
        a = recall(raw_q, as_written, doc_of, gold)
        b = recall(fold_q, folded, doc_of, gold)
        cells = [f"R@1 {m['R@1']:.3f} R@5 {m['R@5']:.3f} MRR {m['MRR@10']:.3f}" for m in (a, b)]
        print(f"| questions {script} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
