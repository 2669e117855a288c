"""The evaluation harness: CMRC-style scoring, unanswerable questions from another set, the refusal
sweep, and the confidence threshold a deployment sets (RAG_MIN_CONFIDENCE)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import SEED_QUESTION, SEEDS
from rag.evaluation.datasets import EvalQuestion, EvalSet, load_jsonl, with_unanswerable
from rag.evaluation.metrics import char_f1, exact_match
from rag.evaluation.runner import Evaluation


def test_char_f1_follows_the_cmrc_scorer():
    assert exact_match("水利建设基金。", "水利建设基金") == 1.0  # punctuation is dropped
    assert exact_match("ＡＢＣ 基金", "abc基金") == 1.0  # full width, case and spaces too
    assert char_f1("水利建设基金", "建设基金") == pytest.approx(2 * (4 / 6) * 1.0 / (4 / 6 + 1.0))
    assert char_f1("文化事业建设费", "水利") == 0.0


def test_with_unanswerable_adds_the_other_sets_questions_as_unanswerable():
    own = EvalSet("dev", Path("corpus"), (EvalQuestion("1", "甲?", ("甲",), ("a.md",)),), "squad")
    other = EvalSet("trial", Path("elsewhere"), (EvalQuestion("1", "乙?", ("乙",), ("b.md",)), EvalQuestion("2", "丙?")), "squad")
    merged = with_unanswerable(own, other, limit=1)
    assert merged.corpus == Path("corpus") and merged.kind == "squad"
    assert [(q.question, q.answerable, q.answers, q.gold_docs) for q in merged.questions] == [
        ("甲?", True, ("甲",), ("a.md",)),
        ("乙?", False, (), ()),
    ]
    assert merged.questions[1].qid != merged.questions[0].qid


def test_refusal_sweep_on_the_seed_index(assistant, tmp_path):
    rows = [
        {"question": SEED_QUESTION, "answers": ["水利建设基金", "稳岗返还"]},
        {"question": "失业保险稳岗返还属于什么做法?", "answers": ["免申即享"]},
        {"question": "火星上有没有液态水?", "answers": [], "answerable": False},
        {"question": "如何办理护照?", "answers": [], "answerable": False},
    ]
    path = tmp_path / "mini.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    evaluation = Evaluation(load_jsonl(path, SEEDS, None), assistant, with_baselines=False)
    result = evaluation.run()
    assert result["retrieval"]["product"]["R@5"] == 1.0
    assert result["answers"]["hit"] == 1.0 and result["answers"]["refusal_recall"] == 1.0

    sweep = evaluation.refusal_sweep((-10.0, 0.348, 10.0))
    assert sweep["0.348"]["refusal_recall"] == 1.0 and sweep["0.348"]["false_refusal"] == 0.0
    assert sweep["0.348"]["hit"] == result["answers"]["hit"]
    assert sweep["10"] == {"refusal_recall": 1.0, "false_refusal": 1.0, "hit": 0.0, "F1": 0.0}
    # with no threshold, the answerable questions keep their answers; an unanswerable question is
    # still refused when its passages share no word with it
    assert sweep["-10"]["false_refusal"] == 0.0 and sweep["-10"]["hit"] == 1.0


def test_min_confidence_is_a_deployment_setting(seed_index, embedder, monkeypatch):
    from rag import Assistant, Settings

    monkeypatch.setenv("RAG_MIN_CONFIDENCE", "0.9")
    settings = replace(Settings.from_env(), index_dir=seed_index.index_dir)
    assert settings.min_confidence == 0.9
    strict = Assistant(settings, embedder=embedder)
    assert strict.answer_settings.min_confidence == 0.9
    assert Assistant(seed_index, embedder=embedder).answer_settings.min_confidence == 0.348
