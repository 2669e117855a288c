"""The trained reader alone: each question read with its own passage only (no retrieval, no refusal).

Separates what the reader gets wrong from what retrieval and passage choice cost: `rag eval` scores
the whole pipeline; this scores the reader's best span in the gold passage against the references
(the CMRC scorer's EM/F1: best of the references, punctuation and spaces removed).

    python bench/reader_gold.py ../shared/data/cmrc2018/cmrc2018_dev.json --limit 600
    python bench/reader_gold.py ../shared/data/drcd/DRCD_dev.json --limit 600 [--weights DIR]
    python bench/reader_gold.py ../shared/data/cail2019/cail2019_test.json --cases 0:150 --limit 0   # CAIL's report split, span questions

Prints EM, F1, the share of questions whose best margin is below 0 (the reader thinks the passage
does not answer) and the mean seconds per question.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="SQuAD v1-style JSON (CMRC 2018, DRCD)")
    parser.add_argument("--limit", type=int, default=600, help="the first N questions (as rag eval --limit)")
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("--cases", metavar="A:B", help="the paragraphs A..B-1 only (CAIL 2019's report split: 0:150)")
    parser.add_argument("--weights", default=None, help="reader weights folder (default: the shipped one)")
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"))
    args = parser.parse_args()

    from rag.config import Settings
    from rag.embedding.build import ensure_built
    from rag.evaluation.datasets import is_impossible
    from rag.evaluation.metrics import best_over, char_f1, exact_match
    from rag.read.model.reader import ReaderSettings, open_model_reader
    from rag.types import Chunk, Document, Passage

    items = []
    paragraphs = [p for article in json.loads(Path(args.dataset).read_text("utf-8"))["data"] for p in article["paragraphs"]]
    if args.cases:
        lo, _, hi = args.cases.partition(":")
        paragraphs = paragraphs[int(lo or 0) : int(hi)]
    for paragraph in paragraphs:
        for qa in paragraph["qas"]:
            if is_impossible(qa):
                continue  # SQuAD 2.0 / CAIL: unanswerable (CAIL's strings "true"/"false")
            answers = tuple(a["text"] for a in qa.get("answers", ()) if a["text"].strip() and a.get("answer_start", 0) >= 0)
            if answers:  # CAIL's YES/NO questions (answer_start -1) have no span
                items.append((paragraph["context"], qa["question"], answers))
    items = items[args.skip : args.skip + args.limit if args.limit else None]

    settings = Settings.from_env()
    reader = open_model_reader(
        {}, ensure_built(settings.cache_dir), ReaderSettings(dtype=args.dtype, passage_weight=0.0), Path(args.weights) if args.weights else None
    )
    em = f1 = 0.0
    negative = 0
    t0 = time.perf_counter()
    for context, question, answers in items:
        passage = Passage(Chunk("gold#0", "gold", 0, len(context), context), 1.0)
        reader.documents = {"gold": Document("gold", "", context, "")}  # the names check reads the document
        guesses = reader.read(question, [passage])
        prediction = context[guesses[0].start : guesses[0].end] if guesses else ""
        negative += bool(guesses and guesses[0].margin < 0)
        em += best_over(exact_match, prediction, answers)
        f1 += best_over(char_f1, prediction, answers)
    seconds = time.perf_counter() - t0
    k = len(items)
    print(f"{Path(args.dataset).name}: {k} questions read with their own passage")
    print(f"EM {100 * em / k:.1f}  F1 {100 * f1 / k:.1f}  margin < 0: {100 * negative / k:.1f} %  {seconds / k:.3f} s/question")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
