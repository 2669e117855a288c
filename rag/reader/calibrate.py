"""`python -m rag calibrate-reader DATASET`: choose the model reader's default refusal threshold.

On a calibration set (CMRC trial by default: never trained on, never reported), each question is
read twice through the real pipeline: once with what retrieval returns (it should be answered),
once with its own passage taken out of the candidates, so that the reader sees only the near misses
retrieval ranks next (it should be refused). The refusal score is the reader's margin plus a weight
times the rule reader's lexical coverage of the question by the passage of its best span; for each weight tried, the threshold is
the highest score that still answers all but `--false-refusals` of the first kind, and the weight
refusing the most near misses wins (0 means the margin alone). Both go into the manifest with the
figures of every weight tried.

The same reading with the gold passage among the candidates also chooses the passage weight: the
quoted span is the one with the best margin + weight × its passage's fused retrieval score
(BERTserini's interpolation), and the weight whose chosen spans score the best character F1
against the references wins (0: the margin alone).
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
    from ..evaluation.metrics import best_over, char_f1
    from ..indexer import build_index
    from .model import ModelReader, lexical_support
    from .weights import MANIFEST_FILE, WEIGHTS_DIR

    WORKDIR.mkdir(parents=True, exist_ok=True)
    evalset = load_dataset(Path(args.dataset), None, WORKDIR)
    # questions from --skip on: `rag eval --unanswerable-from` reports refusal on the first ones
    questions = evalset.questions[args.skip : args.skip + args.limit if args.limit else None]
    settings = Settings.from_env(reader="model")
    settings = replace(settings, index_dir=WORKDIR / f"index-{evalset.corpus.name}-c{settings.chunk.size}o{settings.chunk.overlap}")
    embedder = Embedder.from_settings(settings)
    build_index([evalset.corpus], settings, embedder)
    assistant = Assistant(settings, embedder=embedder)
    if assistant.reader.name != "model":
        print(assistant.reader_status, file=sys.stderr)
        return 2
    reader, retriever = assistant.reader, assistant.retriever
    assert isinstance(reader, ModelReader)
    n = reader.settings.passages
    rows: dict[bool, list[tuple[float, float]]] = {True: [], False: []}  # (margin, lexical support) with the gold passage / without it
    # per question with the gold passage: (margin, the passage's retrieval score, span F1) per guess
    choices: list[list[tuple[float, float, float]]] = []
    for q in tqdm(questions, desc="calibrating", unit="q"):
        passages = retriever.search(q.question, k=n + 10)
        others = [p for p in passages if p.chunk.doc_id not in q.gold_docs]
        for gold, read in ((True, passages[:n]), (False, others[:n])):
            guesses = reader.read(q.question, read)
            rows[gold].append((guesses[0].margin, lexical_support(reader.rules, q.question, read, guesses)) if guesses else (-np.inf, 0.0))
            if gold and guesses and q.answers:
                spans = [assistant.documents[read[g.passage].chunk.doc_id].text[g.start : g.end] for g in guesses]
                choices.append([(g.margin, read[g.passage].score, best_over(char_f1, span, q.answers)) for g, span in zip(guesses, spans)])
    answerable, near_miss = np.array(rows[True]), np.array(rows[False])
    if not np.isfinite(answerable[:, 0]).any():
        print("no calibration question was read: nothing written", file=sys.stderr)
        return 2
    # the refusal score is margin + weight × support; each weight gets the threshold that refuses
    # `--false-refusals` of the answerable questions, and the weight that then refuses the most near
    # misses wins (0: the margin alone)
    trials = []
    for weight in SUPPORT_WEIGHTS:
        good, bad = answerable[:, 0] + weight * answerable[:, 1], near_miss[:, 0] + weight * near_miss[:, 1]
        threshold = _threshold(good, args.false_refusals)
        trials.append(
            {
                "support_weight": weight,
                "min_margin": round(threshold, 3),
                "false_refusals": round(float((good < threshold).mean()), 4),
                "near_misses_refused": round(float((bad < threshold).mean()), 4),
            }
        )
    best = max(trials, key=lambda t: (t["near_misses_refused"], -t["support_weight"]))
    passage_trials = [{"passage_weight": w, "F1": round(100 * _chosen_f1(choices, w), 2)} for w in PASSAGE_WEIGHTS]
    best_passage = max(passage_trials, key=lambda t: (t["F1"], -t["passage_weight"]))
    figures = {
        "set": Path(args.dataset).name,
        "questions": len(questions),
        "skipped": args.skip,
        **best,
        "weights_tried": trials,
        "passage_weight": best_passage["passage_weight"],
        "passage_weights_tried": passage_trials,
        "command": "python -m rag calibrate-reader " + " ".join(sys.argv[2:]),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    path = WEIGHTS_DIR / MANIFEST_FILE
    manifest = json.loads(path.read_text("utf-8"))
    manifest["calibration"] = figures
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"threshold written to {path}")
    return 0


SUPPORT_WEIGHTS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
PASSAGE_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)


def _chosen_f1(choices: list[list[tuple[float, float, float]]], weight: float) -> float:
    """Mean F1 of the span that margin + weight × retrieval score picks, per question."""
    from .model import interpolated

    if not choices:
        return 0.0
    return float(np.mean([max(guesses, key=lambda g: interpolated(g[0], g[1], weight))[2] for guesses in choices]))


def _threshold(scores: np.ndarray, false_refusals: float) -> float:
    """The score below which `false_refusals` of these (answerable) questions fall; questions the
    reader found no span for (-inf) count as refused whatever the threshold."""
    finite = scores[np.isfinite(scores)]
    share = max(0.0, (false_refusals * len(scores) - (len(scores) - len(finite))) / len(finite))
    return float(np.quantile(finite, share))


def add_arguments(parser) -> None:
    parser.add_argument("dataset", nargs="?", default="../shared/data/cmrc2018/cmrc2018_trial.json")
    parser.add_argument("--false-refusals", type=float, default=0.02, help="share of answerable calibration questions allowed to be refused")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--skip", type=int, default=600, help="leave out the first questions (the ones `rag eval --unanswerable-from ... --limit 600` reports on)"
    )
