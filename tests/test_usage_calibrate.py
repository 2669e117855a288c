"""`rag calibrate --from-log`: from a log of judged questions (asked and judged by a simulated user
who knows the labelled answers), the fusion weight it chooses is as good on held-out questions of
the same set as the weight a labelled sweep of those questions chooses (within 0.01 R@5); with 10
judged questions it keeps the defaults and says why.

The labelled set is made here from documents in the repository (the seed reply and the provincial
report excerpts): cloze questions, a sentence with a phrase replaced by 什么, whose gold is the
phrase in its own document; sentences of a report left out of the index are the unanswerable
questions. The fake embedder (hashed character bigrams in 16 dimensions) makes the dense side
weak, so that the weight matters (the test checks the sweep is not flat); the rules reader answers
(the reader does not matter for the weight, and it is instant)."""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import SEED_FILE
from rag.evaluation.datasets import EvalSet, jsonl_question
from rag.evaluation.runner import Evaluation
from rag.usage.calibrate import WEIGHTS, calibrate
from rag.usage.cli import run_calibrate
from rag.usage.log import QuestionLog
from rag.usage.simulate import simulate_judgments

REPORTS = Path(__file__).parent / "data" / "report_excerpts"
LEFT_OUT = "辽宁省.txt"  # not indexed: its sentences are the unanswerable questions


BLANKS = 6  # cloze questions per sentence, at different places


def _cloze(text: str, doc: str) -> list[list[dict]]:
    """Per sentence of `text`, its cloze questions (the gold phrase replaced by 什么)."""
    groups = []
    for sentence in re.split(r"(?<=[。；！？])", text):
        sentence = sentence.strip().rstrip("。；！？")
        if len(sentence) < 20:
            continue
        rows = []
        for n in range(BLANKS):
            at = 2 + n * (len(sentence) - 8) // BLANKS
            answer = sentence[at : at + 4]
            rows.append({"question": sentence[:at] + "什么" + sentence[at + 4 :] + "？", "answers": [answer], "docs": [doc]})
        groups.append(rows)
    return groups


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """(assistant, labelled set): the corpus indexed with the fake embedder, the rules reader answering."""
    from conftest import FakeEmbedder
    from rag import Assistant, Settings, build_index

    root = tmp_path_factory.mktemp("calibrate")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(SEED_FILE, corpus / SEED_FILE.name)
    groups = []
    for path in sorted(REPORTS.glob("*.txt")) + [SEED_FILE]:
        text = path.read_text(encoding="utf-8")
        if path.name == LEFT_OUT:
            groups += [[{"question": r["question"], "answerable": False} for r in g] for g in _cloze(text, path.name)]
            continue
        if path != SEED_FILE:
            shutil.copy(path, corpus / path.name)
        groups += _cloze(text, path.name)
    random.Random(7).shuffle(groups)  # by sentence: the log and the held-out questions never share one
    rows = [r for g in groups for r in g]
    evalset = EvalSet("cloze", corpus, tuple(jsonl_question(str(i), r) for i, r in enumerate(rows)), "jsonl")
    embedder = FakeEmbedder(dimension=16)  # hashed bigrams in 16 dimensions: a near-blind dense side
    settings = replace(Settings.from_env(), index_dir=root / "kb", reader="rules")
    build_index([corpus], settings, embedder)
    return Assistant(settings, embedder=embedder), evalset


def _recall_by_weight(assistant, evalset: EvalSet) -> dict[float, float]:
    evaluation = Evaluation(evalset, assistant, with_baselines=False, with_readers=False)
    evaluation.run()
    out = {}
    for w in WEIGHTS:
        ranks = evaluation.fused_ranks(w)
        out[w] = sum(bool(r) and min(r) <= 5 for r in ranks) / len(ranks)
    return out


def test_the_weight_from_a_judged_log_is_as_good_as_a_labelled_sweep(labelled, tmp_path, monkeypatch):
    assistant, evalset = labelled
    monkeypatch.delenv("RAG_LOG", raising=False)
    questions = list(evalset.questions)
    assert len(questions) >= 330 and sum(not q.answerable for q in questions) >= 30
    logged, held_out = questions[: 37 * BLANKS], questions[37 * BLANKS :]  # whole sentences on each side
    # the weight in use is a poor one (dense alone, near-blind here): calibration must move off it
    from rag import Assistant

    settings = assistant.settings
    assistant = Assistant(replace(settings, retrieval=replace(settings.retrieval, dense_weight=1.0)), embedder=assistant.embedder)
    log = QuestionLog(tmp_path / "log")
    given = simulate_judgments(log, assistant, evalset, logged)
    judged = log.read().judged
    assert len(judged) == 37 * BLANKS >= 200 and given["right 👍"] > 30 and given["refused unanswerable 👍"] > 0, given

    result = calibrate(assistant, judged, readers=("rules",), resamples=100)
    weight, threshold = result.choices
    assert weight.value is not None and weight.n >= 100, weight.line()
    # an answered unanswerable question is judged 以上段落都不能回答 (should be refused); a wrong answer
    # with its passage not offered says neither side and is left out, not counted as "should be refused"
    labels = Counter(j.label for j in judged)
    assert labels["unanswerable"] > 0 and result.unused == Counter({"wrong-answer": labels["wrong-answer"]}), labels
    refuse = labels["unanswerable"] + labels["rightly-refused"]
    assert threshold.figures["answer / refuse"] == f"{len(judged) - refuse - labels['wrong-answer']} / {refuse}", threshold.line()

    held = _recall_by_weight(assistant, replace(evalset, questions=tuple(q for q in held_out if q.answerable)))
    best = max(held, key=lambda w: held[w])
    print(
        f"\nfrom the log: {weight.line()}\nheld-out R@5 by weight: {held}\nlabelled sweep's weight {best} (R@5 {held[best]:.3f}); "
        f"the log's {weight.value} (R@5 {held[weight.value]:.3f})\n{threshold.line()}"
    )
    assert held[best] - held[1.0] > 0.05  # the weight in use is clearly worse: keeping it fails the check below
    assert held[weight.value] >= held[best] - 0.01
    assert weight.interval is not None and weight.interval[0] <= weight.value <= weight.interval[1]
    # the rules reader's threshold from the same log, at the chosen weight
    assert threshold.setting == "min_confidence" and threshold.value is not None, threshold.line()
    assert threshold.interval is not None and threshold.interval[0] <= threshold.value <= threshold.interval[1]
    assert threshold.figures["false refusals"] <= 0.05, threshold.line()  # the cap a fitted threshold keeps


def test_the_fitted_threshold_refuses_the_most_within_the_false_refusal_cap():
    from rag.evaluation.runner import RefusalRecord, balanced_threshold, capped_threshold

    def record(answerable: bool, confidence: float) -> RefusalRecord:
        return RefusalRecord(answerable, confidence, False, answerable, 1.0 if answerable else 0.0)

    # 20 answerable questions at 1..20, 10 unanswerable ones at 0.5..9.5: the balanced rule refuses
    # the answerable ones below 10 too; under a 5 % cap only one answerable question may be refused
    records = [record(True, float(c)) for c in range(1, 21)] + [record(False, c + 0.5) for c in range(10)]
    capped = capped_threshold(records, 0.05)
    assert capped is not None and 1.5 < capped["threshold"] < 2.0  # refuses the answerable 1, not 2
    assert capped["false_refusal"] == 0.05 and capped["refusal_recall"] == 0.2
    balanced = balanced_threshold(records)
    assert balanced is not None and balanced["false_refusal"] > 0.05
    assert capped_threshold(records, 0.0) == {"threshold": 0.75, "refusal_recall": 0.1, "false_refusal": 0.0}
    assert capped_threshold([record(True, 1.0)], 0.05) is None  # no question that should be refused


def _judged_copy(labelled, kb, n: int):
    """An Assistant over a copy of the labelled index in `kb` (no log), with its first `n`
    questions asked and judged into the copy's own log."""
    from rag import Assistant

    assistant, evalset = labelled
    shutil.copytree(assistant.settings.index_dir, kb, ignore=shutil.ignore_patterns("log"))
    copy = Assistant(replace(assistant.settings, index_dir=kb), embedder=assistant.embedder)
    simulate_judgments(QuestionLog(kb / "log"), copy, evalset, evalset.questions[:n])
    return copy


def test_ten_judged_questions_keep_the_defaults_and_say_why(labelled, tmp_path, monkeypatch, capsys):
    from rag.bases.fitted import SETTINGS_FILE

    monkeypatch.delenv("RAG_LOG", raising=False)
    kb = tmp_path / "kb"
    small = _judged_copy(labelled, kb, 10)
    args = argparse.Namespace(from_log=True, min_questions=100, min_each=30, resamples=20, readers="rules", by="MRR@10", max_false_refusals=0.05, dry_run=False)
    assert run_calibrate(args, small) == 0
    out = capsys.readouterr().out
    assert "10 questions in the log" in out and "10 judged" in out
    assert re.search(r"retrieval\.dense_weight: kept 0\.5 \(\d+ judged questions name a relevant passage, 100 needed: \d+ more\)", out), out
    assert re.search(r"min_confidence: kept [\d.]+ \(\d+ judged questions should be answered and \d+ refused, 30 of each needed", out), out
    assert "nothing fitted: the defaults stay" in out
    assert not (kb / SETTINGS_FILE).exists()


def test_enough_judgments_are_written_into_the_knowledge_base_settings(labelled, tmp_path, monkeypatch, capsys):
    from rag.bases.fitted import read_fitted, read_provenance

    monkeypatch.delenv("RAG_LOG", raising=False)
    kb = tmp_path / "kb"
    ours = _judged_copy(labelled, kb, 60)
    args = argparse.Namespace(from_log=True, min_questions=20, min_each=5, resamples=20, readers="rules", by="MRR@10", max_false_refusals=0.05, dry_run=True)
    assert run_calibrate(args, ours) == 0
    assert "--dry-run: nothing written" in capsys.readouterr().out and read_fitted(kb) == {}
    args.dry_run = False
    assert run_calibrate(args, ours) == 0
    out = capsys.readouterr().out
    fitted = read_fitted(kb)
    assert set(fitted) == {"retrieval.dense_weight", "min_confidence"} and f"to {kb}" in out
    provenance = read_provenance(kb)["retrieval.dense_weight"]
    assert provenance["from"] == "question log" and provenance["n"] >= 20 and len(provenance["interval"]) == 2
    assert json.loads((kb / "settings.json").read_text(encoding="utf-8"))["values"] == fitted
