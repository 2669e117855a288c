"""Issue 18, first idea: do pseudo-questions made from a collection's own text tell which dense
fusion weight suits it? Prints, per kind of pseudo-question, the recall of its source document at
each weight, and the weight that pseudo-questions would choose.

    python bench/fusion_pseudo.py bench/out/eval/index-corpus-cmrc2018_dev-titled-c300o60 [--questions 300]

Compare with the weight the labelled questions prefer (`rag eval … --sweep` on the same index).
Pseudo-questions (deterministic, seed 13), one per sampled chunk:
- clause: a clause of 6–40 characters of one of its sentences, verbatim (inverse cloze);
- noisy cloze: a sentence with a 2–6 character "answer" cut out and 30 % (or 50 %) of the other
  characters dropped (a crude rewording);
- keywords: four of the sentence's words (jieba) in random order.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.embedding import Embedder  # noqa: E402
from rag.retrieve.fusion import minmax_fusion  # noqa: E402
from rag.store.base import top_indices  # noqa: E402
from rag.store.files import read_index, stored_vectors  # noqa: E402
from rag.text.sentences import split_sentences  # noqa: E402

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def _sentences(chunk) -> list[str]:
    return [chunk.source[a:b] for a, b in split_sentences(chunk.text, chunk.start)]


def clauses(chunk) -> list[tuple[str, str]]:
    """(clause of 6-40 characters, the sentence it is in), for inverse-cloze questions."""
    return [(c, s) for s in _sentences(chunk) for c in re.split(r"[，,；;。！？]", s) if 6 <= len(c) <= 40]


def cloze_sentences(chunk) -> list[str]:
    """The sentences a noisy cloze question may be made from."""
    return [s for s in _sentences(chunk) if 10 <= len(s) <= 80]


def clause(chunk, rng: random.Random) -> str | None:
    pieces = clauses(chunk)
    return rng.choice(pieces)[0] if pieces else None


def noisy_cloze(chunk, rng: random.Random, drop: float) -> str | None:
    candidates = cloze_sentences(chunk)
    if not candidates:
        return None
    s = rng.choice(candidates).rstrip("。！？；")
    cut = rng.randrange(0, max(1, len(s) - 6))
    s = s[:cut] + s[cut + rng.randint(2, 6) :]
    return "".join(ch for ch in s if rng.random() >= drop) or None


def keywords(chunk, rng: random.Random) -> str | None:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    candidates = [s for s in _sentences(chunk) if 10 <= len(s) <= 120]
    if not candidates:
        return None
    words = [w for w in jieba.lcut(rng.choice(candidates)) if len(w) >= 2 and re.search(r"[\u4e00-\u9fff]", w)]
    if len(words) < 3:
        return None
    rng.shuffle(words)
    return " ".join(words[:4])


KINDS = {
    "clause": clause,
    "noisy cloze 30%": lambda c, r: noisy_cloze(c, r, 0.3),
    "noisy cloze 50%": lambda c, r: noisy_cloze(c, r, 0.5),
    "keywords": keywords,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index")
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    data = read_index(Path(args.index), check_format=False, verify=False)
    vectors, chunks, bm25 = stored_vectors(data), data.chunks, data.bm25
    order = list(range(len(chunks)))
    random.Random(13).shuffle(order)
    embedder = Embedder()
    print(f"{args.index}: {len(chunks)} chunks\n")
    print("| pseudo-questions | " + " | ".join(f"w={w}" for w in WEIGHTS) + " | chosen |\n|---|" + "---|" * (len(WEIGHTS) + 1))
    for name, make in KINDS.items():
        rng, asked = random.Random(7), []
        for i in order:
            q = make(chunks[i], rng)
            if q:
                asked.append((q, chunks[i].doc_id))
            if len(asked) >= args.questions:
                break
        query_vectors = embedder.encode_queries([q for q, _ in asked])
        r5 = dict.fromkeys(WEIGHTS, 0.0)
        mrr = dict.fromkeys(WEIGHTS, 0.0)
        for (q, doc_id), qv in zip(asked, query_vectors):
            dense = vectors @ qv
            dense_top = top_indices(dense, 100)
            lexical = bm25.scores(q)
            lexical_top = top_indices(lexical, 100)
            lexical_top = lexical_top[lexical[lexical_top] > 0]
            ids = np.union1d(dense_top, lexical_top)
            for w in WEIGHTS:
                fused = minmax_fusion(ids, [(dense[ids], dense[dense_top], w), (lexical[ids], lexical[lexical_top], 1 - w)])
                top = sorted(fused, key=lambda i: -fused[i])[:10]
                ranks = [r for r, i in enumerate(top, start=1) if chunks[i].doc_id == doc_id]
                r5[w] += bool(ranks and ranks[0] <= 5) / len(asked)
                mrr[w] += (1 / ranks[0] if ranks else 0.0) / len(asked)
        chosen = max(WEIGHTS, key=lambda w: (round(mrr[w], 3), -abs(w - 0.5)))
        print(f"| {name} ({len(asked)}) | " + " | ".join(f"{r5[w]:.3f} / {mrr[w]:.3f}" for w in WEIGHTS) + f" | {chosen} |")
    print("\ncells: R@5 / MRR@10 of the pseudo-question's source document; chosen: best MRR (ties → nearest 0.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
