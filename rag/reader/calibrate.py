"""`python -m rag calibrate-reader DATASET`: choose the model reader's default refusal threshold.

On a calibration set (CMRC trial by default: never trained on, never reported), each question is
read twice through the real pipeline: once with what retrieval returns (it should be answered),
once with its own passage taken out of the candidates, so that the reader sees only the near misses
retrieval ranks next (it should be refused). The threshold is the highest margin that still answers
all but `--false-refusals` of the first kind; it is written into the manifest with the figures.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np


def run(args) -> int:
    from tqdm import tqdm

    from ..assistant import Assistant
    from ..config import Settings
    from ..embedding import Embedder
    from ..evaluation.cli import WORKDIR
    from ..evaluation.datasets import load_dataset
    from ..indexer import build_index
    from .weights import MANIFEST_FILE, WEIGHTS_DIR

    WORKDIR.mkdir(parents=True, exist_ok=True)
    evalset = load_dataset(Path(args.dataset), None, WORKDIR, args.limit)
    settings = Settings.from_env(reader="model")
    settings = replace(settings, index_dir=WORKDIR / f"index-{evalset.corpus.name}-c{settings.chunk.size}o{settings.chunk.overlap}")
    embedder = Embedder.from_settings(settings)
    build_index([evalset.corpus], settings, embedder)
    assistant = Assistant(settings, embedder=embedder)
    if assistant.reader.name != "model":
        print(assistant.reader_status, file=sys.stderr)
        return 2
    reader, retriever = assistant.reader, assistant.retriever
    n = reader.settings.passages
    with_gold, without_gold = [], []
    for q in tqdm(evalset.questions, desc="calibrating", unit="q"):
        passages = retriever.search(q.question, k=n + 10)
        guesses = reader.read(q.question, passages[:n])
        with_gold.append(guesses[0].margin if guesses else -np.inf)
        others = [p for p in passages if p.chunk.doc_id not in q.gold_docs][:n]
        guesses = reader.read(q.question, others)
        without_gold.append(guesses[0].margin if guesses else -np.inf)
    answerable, near_miss = np.array(with_gold), np.array(without_gold)
    finite = answerable[np.isfinite(answerable)]
    if not len(finite):
        print("no calibration question was read: nothing written", file=sys.stderr)
        return 2
    # questions the reader found no span for count as refused, whatever the threshold
    threshold = float(np.quantile(finite, max(0.0, (args.false_refusals * len(answerable) - (len(answerable) - len(finite))) / len(finite))))
    figures = {
        "set": Path(args.dataset).name,
        "questions": len(evalset.questions),
        "min_margin": round(threshold, 3),
        "false_refusals": round(float((answerable < threshold).mean()), 4),
        "near_misses_refused": round(float((near_miss < threshold).mean()), 4),
        "command": "python -m rag calibrate-reader " + " ".join(sys.argv[2:]),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    path = WEIGHTS_DIR / MANIFEST_FILE
    manifest = json.loads(path.read_text("utf-8"))
    manifest["calibration"] = figures
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"threshold written to {path}")
    return 0


def add_arguments(parser) -> None:
    parser.add_argument("dataset", nargs="?", default="../shared/data/cmrc2018/cmrc2018_trial.json")
    parser.add_argument("--false-refusals", type=float, default=0.02, help="share of answerable calibration questions allowed to be refused")
    parser.add_argument("--limit", type=int, default=None)
