"""`python -m rag calibrate-reader DATASET`: choose the model reader's default refusal threshold.

On a calibration set (CMRC trial by default: never trained on, never reported), each question is
read twice through the real pipeline: once with what retrieval returns (it should be answered),
once with its own passage taken out of the candidates, so that the reader sees only the near misses
retrieval ranks next (it should be refused). The refusal score is the reader's margin plus a weight
times the rule reader's lexical coverage of the question by the passage of its best span.

CMRC's questions were written looking at their passage and share many words with it; a user's
question does not. So a second set goes with it (`--lay`, by default the hand-written questions over
the national government work reports, bench/data/national_reports_questions.jsonl: lay and
document-style questions, and near misses written by hand; never reported): its answerable questions
count when retrieval hands the reader their answer, and its unanswerable ones are near misses.
A third set (`--cail`, CAIL 2019 test cases 150-299: judgments, human-written questions, and
near misses written by annotators about a judgment that does not say; the first 150 cases are
reported, the rest trained on) is read the same way.
For each weight tried, the threshold is the highest score that still answers all but
`--false-refusals` of the answerable questions *of each set* that the reader answers right (the
answer it would give holds a reference: refusing a wrong answer is no false refusal), and the weight
refusing the most near misses (the mean of the sets' shares) wins (0 means the margin alone). Both go into the manifest
with the figures of every weight tried.

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

from rag.read.question import QuestionAnalysis, analyse_question
from rag.train.groups import CAIL_CALIBRATION_CASES


def run(args) -> int:
    from tqdm import tqdm

    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.embedding import Embedder
    from rag.evaluation.cli import WORKDIR
    from rag.evaluation.datasets import load_dataset
    from rag.evaluation.metrics import best_over, char_f1
    from rag.indexing.build import build_index
    from rag.read.model.reader import ModelReader
    from rag.read.model.weights import MANIFEST_FILE, WEIGHTS_DIR
    from rag.store import index_backends

    WORKDIR.mkdir(parents=True, exist_ok=True)
    evalset = load_dataset(Path(args.dataset), None, WORKDIR)
    # questions from --skip on: `rag eval --unanswerable-from` reports refusal on the first ones
    questions = evalset.questions[args.skip : args.skip + args.limit if args.limit else None]
    settings = Settings.from_env(reader="model")
    embedder = Embedder.from_settings(settings, index_backends(settings))

    def open_assistant(corpus: Path) -> Assistant:
        indexed = replace(settings, index_dir=WORKDIR / f"index-{corpus.name}-c{settings.chunk.size}o{settings.chunk.overlap}")
        build_index([corpus], indexed, embedder)
        return Assistant(indexed, embedder=embedder)

    lay = None
    if args.lay:
        corpus = Path(args.lay_corpus)
        if not corpus.is_dir():
            print(f"error: the corpus of {args.lay} is missing: {corpus} (python bench/national_corpus.py builds it)", file=sys.stderr)
            return 2
        lay = load_dataset(Path(args.lay), corpus, WORKDIR)
    cail = None
    if args.cail:
        if not Path(args.cail).is_file():
            print(f"error: {args.cail} is missing ('' for none)", file=sys.stderr)
            return 2
        lo, hi = CAIL_CALIBRATION_CASES  # never the first 150 cases (reported), never trained on
        cail = load_dataset(Path(args.cail), None, WORKDIR, cases=(lo, hi))
    assistant = open_assistant(evalset.corpus)
    if assistant.reader.name != "model":
        print(assistant.reader_status, file=sys.stderr)
        return 2
    reader, retriever = assistant.reader, assistant.retriever
    assert isinstance(reader, ModelReader)
    n = reader.settings.passages
    # (margin, lexical support, right) per question of each kind: what should be answered / refused;
    # right: the answer the reader would give at any threshold holds a reference (what `rag eval`
    # counts as a hit). Refusing a question the reader would answer wrongly is no false refusal.
    rows: dict[str, list[tuple[float, float, bool]]] = {"answerable": [], "near_miss": [], "lay_answerable": [], "lay_unanswerable": []}
    # per question with the gold passage: (margin, the passage's retrieval score, span F1) per guess
    choices: list[list[tuple[float, float, float]]] = []
    for q in tqdm(questions, desc="calibrating", unit="q"):
        passages = retriever.search(q.question, k=n + 10)
        others = [p for p in passages if p.chunk.doc_id not in q.gold_docs]
        question = analyse_question(q.question)
        for gold, read in ((True, passages[:n]), (False, others[:n])):
            guesses = reader.read(q.question, read, question)
            rows["answerable" if gold else "near_miss"].append(_row(reader, question, read, guesses, q.answers if gold else ()))
            if gold and guesses and q.answers:
                spans = [assistant.documents[read[g.passage].chunk.doc_id].text[g.start : g.end] for g in guesses]
                choices.append([(g.margin, read[g.passage].score, best_over(char_f1, span, q.answers)) for g, span in zip(guesses, spans)])
    extra: dict[str, dict] = {}
    for name, other in (("lay", lay), ("cail", cail)):
        if other is not None:
            extra[name] = _read_other(open_assistant(other.corpus), other, n, name)
    answerable, near_miss = np.array(rows["answerable"], dtype=float), np.array(rows["near_miss"], dtype=float)
    if not np.isfinite(answerable[:, 0]).any():
        print("no calibration question was read: nothing written", file=sys.stderr)
        return 2
    sets = {"": (answerable, near_miss)} | {name: (o["good"], o["bad"]) for name, o in extra.items()}
    trials = [_trial(weight, sets, args.false_refusals) for weight in SUPPORT_WEIGHTS]
    # the smallest weight within NOISE of the most refused: past 16 the shares move by a question or two
    top = max(t["refused_mean"] for t in trials)
    best = min((t for t in trials if t["refused_mean"] >= top - NOISE), key=lambda t: t["support_weight"])
    passage_trials = [_passage_trial(w, {"set": choices} | {name: o["choices"] for name, o in extra.items()}) for w in PASSAGE_WEIGHTS]
    # the largest weight within a question's worth of the best mean F1: where the sets cannot tell
    # weights apart, retrieval's ranking is trusted (the reader's passage should be right at least as
    # often as retrieval's first; one softmax per window makes margins of two passages incomparable)
    top_f1 = max(t["F1"] for t in passage_trials)
    best_passage = max((t for t in passage_trials if t["F1"] >= top_f1 - PASSAGE_NOISE), key=lambda t: t["passage_weight"])
    figures = {
        "set": Path(args.dataset).name,
        "questions": len(questions),
        "skipped": args.skip,
        **{f"{name}_set": o["set"] for name, o in extra.items()},
        **{f"{name}_questions": o["questions"] for name, o in extra.items()},
        **{f"{name}_not_retrieved": o["missed"] for name, o in extra.items()},
        **best,
        "weights_tried": trials,
        "passage_weight": best_passage["passage_weight"],
        "passage_weights_tried": passage_trials,
        "command": " ".join(["python -m rag calibrate-reader", *sys.argv[2:]]),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    path = (settings.reader_weights or WEIGHTS_DIR) / MANIFEST_FILE  # the reader calibrated (RAG_READER_WEIGHTS)
    manifest = json.loads(path.read_text("utf-8"))
    manifest["calibration"] = figures
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"threshold written to {path}")
    return 0


SUPPORT_WEIGHTS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 24.0, 32.0, 48.0)
NOISE = 0.01  # of the mean share of near misses refused: a question or two of the sets' sizes
PASSAGE_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0)
PASSAGE_NOISE = 0.25  # F1 points: one question of the 402 CMRC trial ones moves the mean by ~0.25


def _read_other(assistant, evalset, n: int, name: str) -> dict:
    """Rows and span choices of a second calibration set read through `assistant`: an answerable
    question counts only when retrieval hands the reader an answer (else refusing it is right);
    its unanswerable ones are near misses written by hand (the topic is there, the fact asked is not)."""
    from tqdm import tqdm

    from rag.evaluation.metrics import best_over, char_f1
    from rag.read.model.reader import ModelReader

    reader = assistant.reader
    assert isinstance(reader, ModelReader)
    good: list[tuple] = []
    bad: list[tuple] = []
    choices: list[list] = []
    missed = 0
    for q in tqdm(evalset.questions, desc=f"{name} questions", unit="q"):
        read = assistant.retriever.search(q.question, k=n)
        if q.answerable and not any(a in p.chunk.source[slice(*reader.widened(p))] for a in q.answers for p in read):
            missed += 1
            continue
        question = analyse_question(q.question)
        guesses = reader.read(q.question, read, question)
        (good if q.answerable else bad).append(_row(reader, question, read, guesses, q.answers))
        if q.answerable and guesses:
            spans = [assistant.documents[read[g.passage].chunk.doc_id].text[g.start : g.end] for g in guesses]
            choices.append([(g.margin, read[g.passage].score, best_over(char_f1, span, q.answers)) for g, span in zip(guesses, spans)])
    as_array = lambda rows: np.array(rows, dtype=float).reshape(-1, 3)  # noqa: E731
    return {"good": as_array(good), "bad": as_array(bad), "choices": choices, "missed": missed, "set": evalset.name, "questions": len(evalset.questions)}


def _passage_trial(weight: float, choices: dict[str, list]) -> dict:
    """Mean F1 of the span margin + weight × retrieval score picks: per set, and their mean."""
    per_set = {name: 100 * _chosen_f1(c, weight) for name, c in choices.items() if c}
    mean = float(np.mean(list(per_set.values()))) if per_set else 0.0
    return {"passage_weight": weight, "F1": round(mean, 2), **{f"F1_{name}": round(v, 2) for name, v in per_set.items()}}


def _row(reader, question: QuestionAnalysis, read, guesses, references: tuple[str, ...]) -> tuple[float, float, bool]:
    """(margin, lexical support, right): right when the answer given at any threshold holds a reference."""
    from rag.evaluation.metrics import contains
    from rag.read.model.reader import lexical_support

    if not guesses:
        return -np.inf, 0.0, False
    support = lexical_support(reader.rules, question.text, read, guesses, question=question)
    answer = reader.with_threshold(-np.inf).compose(question.text, read, guesses, support, question)
    return guesses[0].margin, support, any(contains(answer.text, r) for r in references)


def _trial(weight: float, sets: dict[str, tuple[np.ndarray, np.ndarray]], false_refusals: float) -> dict:
    """The threshold for refusal score margin + weight × support: the highest that refuses at most
    `false_refusals` of the answerable questions of each set that the reader answers right (rows:
    margin, support, right); what it refuses of each set. `sets`: name → (answerable rows,
    unanswerable rows); the first set's figures carry no prefix, the others' `name_`."""

    def scores(rows: np.ndarray) -> np.ndarray:
        return rows[:, 0] + weight * rows[:, 1]

    def right(rows: np.ndarray) -> np.ndarray:
        return scores(rows[rows[:, 2] > 0])

    used = {name: (g, b) for name, (g, b) in sets.items() if len(g)}
    threshold = min(_threshold(right(g), false_refusals) for g, _ in used.values())
    trial: dict = {"support_weight": weight, "min_margin": round(threshold, 3)}
    refused = []
    for name, (g, b) in used.items():
        prefix = f"{name}_" if name else ""
        share = float((scores(b) < threshold).mean()) if len(b) else 0.0
        refused.append(share)
        trial |= {
            f"{prefix}false_refusals": round(float((right(g) < threshold).mean()), 4),
            f"{prefix}answerable_refused": round(float((scores(g) < threshold).mean()), 4),
            f"{prefix}{'unanswerable' if name else 'near_misses'}_refused": round(share, 4),
        }
    trial["refused_mean"] = round(float(np.mean(refused)), 4)
    return trial


def _chosen_f1(choices: list[list[tuple[float, float, float]]], weight: float) -> float:
    """Mean F1 of the span that margin + weight × retrieval score picks, per question."""
    from rag.read.model.decode import interpolated

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
        "--lay",
        default="bench/data/national_reports_questions.jsonl",
        help="hand-written lay questions (answerable and not) over another collection, held to the same false-refusal share ('' for none)",
    )
    parser.add_argument(
        "--cail",
        default="../shared/data/cail2019/cail2019_test.json",
        help="CAIL 2019 test: its cases 150-299 (human-written near misses; the first 150 are reported) ('' for none)",
    )
    parser.add_argument("--lay-corpus", default="bench/out/national_reports", help="the folder they are asked of (python bench/national_corpus.py)")
    parser.add_argument(
        "--skip", type=int, default=600, help="leave out the first questions (the ones `rag eval --unanswerable-from ... --limit 600` reports on)"
    )
