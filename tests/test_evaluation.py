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
from rag.evaluation.runner import Evaluation, RefusalRecord, balanced_threshold


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
        # a paraphrase that shares little with the text: refused at the default threshold
        {"question": "哪些政策可以不用申请就直接享受?", "answers": ["水利建设基金"]},
        {"question": "火星上有没有液态水?", "answers": [], "answerable": False},
        {"question": "如何办理护照?", "answers": [], "answerable": False},
    ]
    path = tmp_path / "mini.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    from rag import Assistant

    rules = Assistant(replace(assistant.settings, reader="rules"), embedder=assistant.embedder)
    evaluation = Evaluation(load_jsonl(path, SEEDS, None), rules, with_baselines=False)
    result = evaluation.run()
    assert result["retrieval"]["product"]["R@5"] == 1.0
    assert list(result["answers"]) == ["rules", "model"]  # the reader in use first, the other beside it
    answers = result["answers"]["rules"]
    assert answers["false_refusal"] == pytest.approx(1 / 3)
    assert answers["refusal_recall"] == 1.0

    sweep = evaluation.refusal_sweep("rules", (-10.0, 10.0))
    threshold = f"{rules.rule_reader.threshold:g}"
    assert set(sweep) == {"-10", threshold, "10"}  # the threshold in use is always swept
    in_use = sweep[threshold]
    assert in_use["false_refusal"] == answers["false_refusal"]
    assert in_use["hit"] == answers["hit"] and in_use["F1"] == pytest.approx(answers["F1"])
    assert in_use["refusal_recall"] == 1.0
    assert sweep["10"] == {"refusal_recall": 1.0, "false_refusal": 1.0, "hit": 0.0, "F1": 0.0}
    # without a threshold the paraphrase gets the answer it would have had, which is scored
    assert sweep["-10"]["false_refusal"] == 0.0
    assert sweep["-10"]["hit"] >= in_use["hit"] and sweep["-10"]["F1"] >= in_use["F1"]

    evaluation.run()  # a second run starts afresh
    assert len(evaluation.refusals["rules"]) == len(rows)


def test_both_readers_side_by_side(assistant, tmp_path):
    from rag import Assistant

    assistant = Assistant(replace(assistant.settings, reader="model"), embedder=assistant.embedder)
    rows = [
        {"question": SEED_QUESTION, "answers": ["水利建设基金", "稳岗返还"]},
        {"question": "火星上有没有液态水?", "answers": [], "answerable": False},
    ]
    path = tmp_path / "mini.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    evaluation = Evaluation(load_jsonl(path, SEEDS, None), assistant, with_baselines=False)
    result = evaluation.run()
    assert list(result["answers"]) == ["model", "rules"]  # the reader in use first
    assert {"answer:model", "answer:rules", "total:model", "total:rules"} <= set(result["latency_ms"])
    assert "product+reader" in result["retrieval"]
    model = result["answers"]["model"]
    assert model["hit"] == 1.0 and model["refusal_recall"] == 1.0
    sweep = evaluation.refusal_sweep("model")
    in_use = sweep[f"{assistant.reader.threshold:g}"]
    assert in_use["refusal_recall"] == model["refusal_recall"] and in_use["false_refusal"] == model["false_refusal"]
    assert in_use["F1"] == pytest.approx(model["F1"])
    assert sweep["8"]["false_refusal"] > 0.0 or sweep["8"]["refusal_recall"] == 1.0  # a high margin refuses more


def test_unanswerable_from_refuses_lecoqa_and_skips_questions_both_sets_ask():
    lecoqa = EvalSet("train", Path("laws"), (EvalQuestion("1", "甲?"),), "lecoqa")
    with pytest.raises(ValueError, match="retrieval only"):
        with_unanswerable(lecoqa, lecoqa)
    own = EvalSet("dev", Path("corpus"), (EvalQuestion("1", "甲?", ("甲",)),), "jsonl")
    assert with_unanswerable(own, own).questions == own.questions


def test_min_confidence_is_a_deployment_setting(seed_index, embedder, monkeypatch):
    from rag import Assistant, Settings
    from rag.errors import ConfigError
    from rag.read.rules.extractor import MIN_CONFIDENCE, calibrated_min_confidence

    monkeypatch.setenv("RAG_MIN_CONFIDENCE", "0.9")
    settings = replace(Settings.from_env(), index_dir=seed_index.index_dir)
    assert settings.min_confidence == 0.9
    strict = Assistant(settings, embedder=embedder)
    assert strict.answer_settings.min_confidence == 0.9
    # without the setting: the threshold calibrated for the backend of the query vectors
    assert Assistant(seed_index, embedder=embedder).answer_settings.min_confidence == calibrated_min_confidence(embedder.info.backend)
    assert calibrated_min_confidence("torch-float32") == MIN_CONFIDENCE["torch"] != MIN_CONFIDENCE["onnx"]
    assert calibrated_min_confidence("onnx-int8-dynamic-per-channel") == MIN_CONFIDENCE["onnx"]
    assert calibrated_min_confidence("fake-hash") == MIN_CONFIDENCE["torch"]

    for bad in ("strict", "nan", "inf"):
        monkeypatch.setenv("RAG_MIN_CONFIDENCE", bad)
        with pytest.raises(ConfigError, match="RAG_MIN_CONFIDENCE must be a number"):
            Settings.from_env()


def test_a_standard_squad_v2_file_evaluates(tmp_path, fake_embedder):
    """Issue 17: paragraphs without ids raised a KeyError; v2.0 `is_impossible` questions are unanswerable."""
    from rag import Assistant, Settings, build_index
    from rag.evaluation.datasets import load_squad

    squad = {
        "version": "v2.0",
        "data": [
            {
                "title": "免申即享",
                "paragraphs": [
                    {
                        "context": "福建省将水利建设基金、文化事业建设费、失业保险稳岗返还等政策纳入免申即享范围。",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "哪些政策纳入了免申即享范围？",
                                "answers": [{"text": "水利建设基金", "answer_start": 4}],
                                "is_impossible": False,
                            },
                            {"id": "q2", "question": "免申即享政策哪一年开始实施？", "answers": [], "plausible_answers": [], "is_impossible": True},
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "mini-v2.json"
    path.write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    evalset = load_squad(path, tmp_path / "work", None)
    assert [q.answerable for q in evalset.questions] == [True, False]
    assert evalset.questions[0].gold_docs == ("0-0.md",)
    settings = replace(Settings.from_env(), index_dir=tmp_path / "index", reader="rules")
    build_index([evalset.corpus], settings, fake_embedder)
    result = Evaluation(evalset, Assistant(settings, embedder=fake_embedder), with_baselines=False).run()
    assert result["retrieval"]["product"]["R@1"] == 1.0
    assert result["answers"]["rules"]["hit"] == 1.0 and "refusal_recall" in result["answers"]["rules"]


def test_balanced_threshold_is_the_middle_of_the_best_gap():
    def record(answerable: bool, confidence: float, always: bool = False) -> RefusalRecord:
        return RefusalRecord(answerable, confidence, always, answerable, 1.0 if answerable else 0.0)

    # unanswerable at 0.1, 0.3 and 0.8 (and one refused whatever the threshold); answerable at 0.5, 0.6, 0.9
    records = [record(False, 0.1), record(False, 0.3), record(False, 0.8), record(False, 0.0, always=True)]
    records += [record(True, 0.5), record(True, 0.6), record(True, 0.9)]
    best = balanced_threshold(records)
    assert best is not None
    # between 0.3 and 0.5: 3 of 4 refused, no false refusal (0.1-0.3: 2 of 4; 0.8-0.9: all, but 2 of 3 false)
    assert best["threshold"] == pytest.approx(0.4)
    assert best["refusal_recall"] == 0.75 and best["false_refusal"] == 0.0
    # a tie is broken by the wider gap: 0.3-0.5 (0.2 wide) over 0.1-0.15 (0.05 wide)
    tied = [record(False, 0.1), record(True, 0.15), record(False, 0.3), record(True, 0.5)]
    assert balanced_threshold(tied)["threshold"] == pytest.approx(0.4)  # type: ignore[index]
    assert balanced_threshold([record(True, 0.5)]) is None  # no unanswerable question: nothing to balance
    # equal balances reached by different counts are equal (4/10 - 4/40 == 3/10 - 0/40, not in floats):
    # the wider gap wins
    answerable = [record(True, c) for c in (0.7, 0.701, 0.702, 0.703, 0.705)] + [record(True, 2.0)] * 35
    unanswerable = [record(False, c) for c in (0.1, 0.2, 0.3, 0.704)] + [record(False, 3.0)] * 6
    best = balanced_threshold(answerable + unanswerable)
    assert best is not None and best["threshold"] == pytest.approx(0.5) and best["false_refusal"] == 0.0
