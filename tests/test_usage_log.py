"""The question log (rag/usage): one record per question, judgments joined by id, a torn last line
skipped and counted, a full disk that never fails an answer, rotation within its bound, RAG_LOG=off,
no login names unless asked, and the export that `rag eval` reads."""

from __future__ import annotations

import errno
import json
import logging
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from conftest import ROOT, SEED_QUESTION
from rag.usage.asking import ask_logged
from rag.usage.export import documents_text_of, export_rows, write_jsonl
from rag.usage.log import QuestionLog, open_log
from rag.usage.records import LoggedQuestion, Span

UNANSWERABLE = "火星上有没有液态水?"


@pytest.fixture
def rules_assistant(tmp_path, seed_copy, fake_embedder, monkeypatch):
    """An assistant over the seed document with the fake embedder and the rules reader (instant)."""
    from rag import Assistant, Settings, build_index

    for var in ("RAG_LOG", "RAG_LOG_USERS", "RAG_LOG_MAX_MB"):
        monkeypatch.delenv(var, raising=False)
    settings = replace(Settings.from_env(), index_dir=tmp_path / "kb", reader="rules")
    build_index([seed_copy], settings, fake_embedder)
    return Assistant(settings, embedder=fake_embedder)


def _record(log: QuestionLog, question: str = "问题?", refused: bool = False) -> str:
    log_id = log.new_id()
    record = LoggedQuestion(log_id, "2026-12-08T00:00:00Z", "kb", question, refused, answer="答", span="答", citations=(Span("a.txt", 0, 3, 0.9),))
    assert log.question(record)
    return log_id


def test_a_question_is_logged_with_its_answer_and_its_judgment(rules_assistant):
    asked = ask_logged(rules_assistant, SEED_QUESTION)
    assert not asked.answer.refused and asked.log_id
    log = open_log(rules_assistant.settings.index_dir)
    assert log is not None and log.path == rules_assistant.settings.index_dir / "log" / "questions.jsonl"
    raw = json.loads(log.path.read_text(encoding="utf-8"))
    assert raw["type"] == "question" and raw["id"] == asked.log_id and raw["question"] == SEED_QUESTION
    assert raw["kb"] == "kb" and raw["reader"] == "rules" and raw["refused"] is False and raw["time"].endswith("Z")
    assert raw["answer"] == asked.answer.text and raw["span"] == asked.answer.span
    first = asked.answer.citations[0]
    assert raw["citations"][0] | {"score": 0} == {"doc": first.doc_id, "start": first.start, "end": first.end, "score": 0}
    assert len(raw["passages"]) == len(asked.answer.passages) and raw["latency_ms"] > 0
    assert raw["threshold"] == rules_assistant.rule_reader.threshold and raw["dense_weight"] == 0.5

    assert log.feedback(asked.log_id, "down") and log.feedback(asked.log_id, "down", Span(first.doc_id, 0, 10))
    reading = log.read()
    assert reading.skipped == 0 and len(reading.entries) == 1
    judged = reading.entries[0]
    assert judged.question.question == SEED_QUESTION
    assert judged.feedback is not None and judged.feedback.passage == Span(first.doc_id, 0, 10)  # the last judgment wins
    assert judged.label == "answerable-passage" and judged.should_answer is True
    assert len(log.path.read_text(encoding="utf-8").splitlines()) == 3  # append-only: the question was not rewritten


def test_labels_of_each_judgment(tmp_path):
    log = QuestionLog(tmp_path / "log")
    answered, refused = _record(log), _record(log, refused=True)
    expect = []
    for log_id, verdict, label, should in [
        (answered, "up", "answered-right", True),
        (answered, "down", "unanswerable-or-wrong", False),
        (refused, "up", "rightly-refused", False),
        (refused, "down", "wrongly-refused", True),
    ]:
        log.feedback(log_id, verdict)
        entry = {e.question.id: e for e in log.read().entries}[log_id]
        expect.append((entry.label, entry.should_answer))
        assert (entry.label, entry.should_answer) == (label, should)
    assert {e.label for e in QuestionLog(tmp_path / "log").read().entries} == {"unanswerable-or-wrong", "wrongly-refused"}


def test_a_torn_last_line_is_skipped_counted_and_not_glued_to_the_next(tmp_path):
    log = QuestionLog(tmp_path / "log")
    first = _record(log, "第一个问题?")
    line = json.dumps(LoggedQuestion("torn", "", "kb", "被截断的问题?", False).json(), ensure_ascii=False)
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write(line[: len(line) // 2])  # a crash mid-write: half a line, no newline
    reading = log.read()
    assert [e.question.id for e in reading.entries] == [first] and reading.skipped == 1
    second = _record(log, "第二个问题?")
    reading = log.read()
    assert [e.question.id for e in reading.entries] == [first, second]  # the next record starts its own line
    assert reading.skipped == 1  # the torn half, now a line of its own, is still not a question
    assert all("torn" != e.question.id for e in reading.entries)


def test_a_writer_killed_mid_run_leaves_only_whole_records(tmp_path):
    """A process appending as fast as it can is killed: every line read is a whole record, at most
    the last one is skipped."""
    folder = tmp_path / "log"
    script = (
        "import sys; from rag.usage.log import QuestionLog; from rag.usage.records import LoggedQuestion\n"
        f"log = QuestionLog(__import__('pathlib').Path({str(folder)!r}))\n"
        "print('go', flush=True)\n"
        "n = 0\n"
        "while True:\n"
        "    n += 1; log.question(LoggedQuestion(str(n), '', 'kb', '问' * 2000 + str(n), False))\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "go"
    time.sleep(0.5)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    reading = QuestionLog(folder).read()
    assert len(reading.entries) > 10 and reading.skipped <= 1
    ids = [int(e.question.id) for e in reading.entries]
    assert ids == list(range(1, len(ids) + 1))
    assert all(e.question.question == "问" * 2000 + e.question.id for e in reading.entries)


def test_a_full_disk_never_fails_the_answer_and_warns_once(rules_assistant, monkeypatch, caplog):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("rag.usage.log.os.write", full)
    with caplog.at_level(logging.WARNING, logger="rag.usage.log"):
        first = ask_logged(rules_assistant, SEED_QUESTION)
        second = ask_logged(rules_assistant, "实施方案叫什么?")
    assert not first.answer.refused and "水利建设基金" in first.answer.text
    assert first.log_id is None and second.log_id is None and second.answer.text
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "No space left" in warnings[0].getMessage()
    monkeypatch.undo()
    log = open_log(rules_assistant.settings.index_dir)
    assert log is not None and log.read().entries == ()


def test_an_unwritable_log_folder_never_fails_the_answer(rules_assistant):
    (rules_assistant.settings.index_dir / "log").write_text("a file where the folder should be")
    asked = ask_logged(rules_assistant, SEED_QUESTION)
    assert asked.log_id is None and not asked.answer.refused


def test_rotation_keeps_the_log_within_its_bound(tmp_path):
    log = QuestionLog(tmp_path / "log", max_bytes=4000, keep=2)
    ids = [_record(log, f"第{n}个问题?" + "长" * 200) for n in range(60)]
    files = log.files()
    assert [p.name for p in files] == ["questions.2.jsonl", "questions.1.jsonl", "questions.jsonl"]
    assert all(p.stat().st_size <= 4000 for p in files)
    read = [e.question.id for e in log.read().entries]
    assert read == ids[-len(read) :] and len(read) >= 3 * (4000 // 1000)  # the newest, oldest first, none lost between files
    assert sum(p.stat().st_size for p in files) <= 3 * 4000


def test_rotated_files_are_read_and_feedback_joins_across_them(tmp_path):
    log = QuestionLog(tmp_path / "log", max_bytes=1500, keep=3)
    first = _record(log, "最早的问题?" + "长" * 200)
    for n in range(3):
        _record(log, f"{n}" + "长" * 200)
    assert len(log.files()) > 1
    log.feedback(first, "up")
    judged = log.read().judged
    assert [j.question.id for j in judged] == [first] and judged[0].label == "answered-right"


def test_rag_log_off_writes_nothing(rules_assistant, monkeypatch):
    monkeypatch.setenv("RAG_LOG", "off")
    asked = ask_logged(rules_assistant, SEED_QUESTION)
    assert asked.log_id is None and not asked.answer.refused
    assert not (rules_assistant.settings.index_dir / "log").exists()


def test_bad_log_settings_are_refused_with_the_variable_named(tmp_path, monkeypatch):
    from rag.errors import ConfigError

    monkeypatch.setenv("RAG_LOG", "maybe")
    with pytest.raises(ConfigError, match="RAG_LOG must be on or off, not 'maybe'"):
        QuestionLog.for_index(tmp_path)
    monkeypatch.setenv("RAG_LOG", "on")
    monkeypatch.setenv("RAG_LOG_MAX_MB", "0")
    with pytest.raises(ConfigError, match="RAG_LOG_MAX_MB"):
        QuestionLog.for_index(tmp_path)
    monkeypatch.setenv("RAG_LOG_MAX_MB", "0.5")
    log = QuestionLog.for_index(tmp_path)
    assert log is not None and log.max_bytes == 2**19


def test_login_names_only_when_the_operator_turns_them_on(rules_assistant, monkeypatch):
    ask_logged(rules_assistant, SEED_QUESTION, user="zhang.san")
    monkeypatch.setenv("RAG_LOG_USERS", "on")
    ask_logged(rules_assistant, SEED_QUESTION, user="li.si")
    text = (rules_assistant.settings.index_dir / "log" / "questions.jsonl").read_text(encoding="utf-8")
    assert "zhang.san" not in text and '"user": "li.si"' in text


def test_the_export_is_a_set_rag_eval_reads(rules_assistant, tmp_path, seed_copy):
    from rag.evaluation.datasets import load_dataset
    from rag.evaluation.runner import Evaluation

    log = open_log(rules_assistant.settings.index_dir)
    assert log is not None
    right = ask_logged(rules_assistant, SEED_QUESTION)
    wrong = ask_logged(rules_assistant, "失业保险稳岗返还属于什么做法?")
    refused = ask_logged(rules_assistant, UNANSWERABLE)
    unjudged = ask_logged(rules_assistant, "实施方案叫什么?")
    assert right.log_id and wrong.log_id and refused.log_id and unjudged.log_id and refused.answer.refused
    picked = wrong.answer.passages[0].chunk
    log.feedback(right.log_id, "up")
    log.feedback(wrong.log_id, "down")
    log.feedback(wrong.log_id, "down", Span(picked.doc_id, picked.start, picked.end))
    log.feedback(refused.log_id, "up")

    exported = export_rows(log.read().judged, documents_text_of(rules_assistant.documents))
    out = tmp_path / "judged.jsonl"
    write_jsonl(exported.rows, out)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["label"], r["answerable"]) for r in rows] == [("answered-right", True), ("answerable-passage", True), ("rightly-refused", False)]
    assert rows[0]["answers"] == [right.answer.span] and rows[0]["docs"] == [right.answer.citations[0].doc_id]
    assert rows[1]["answers"] == [picked.text] and rows[1]["docs"] == [picked.doc_id]

    evalset = load_dataset(out, seed_copy, tmp_path)
    assert [q.question for q in evalset.questions] == [SEED_QUESTION, "失业保险稳岗返还属于什么做法?", UNANSWERABLE]
    result = Evaluation(evalset, rules_assistant, with_baselines=False, only_readers=("rules",)).run()
    assert result["retrieval"]["product"]["R@5"] == 1.0  # both gold passages are found
    assert result["answers"]["rules"]["refusal_recall"] == 1.0


def test_the_cli_exports_and_summarises(rules_assistant, tmp_path, capsys):
    from rag.cli import main

    log = open_log(rules_assistant.settings.index_dir)
    assert log is not None
    asked = ask_logged(rules_assistant, SEED_QUESTION)
    assert asked.log_id
    log.feedback(asked.log_id, "up")
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write('{"type": "question", "id": "cut')
    index = str(rules_assistant.settings.index_dir)
    assert main(["log", "summary", "--index", index]) == 0
    out = capsys.readouterr()
    assert "1 questions" in out.out and "answered-right: 1" in out.out and "1 log lines skipped" in out.err
    assert main(["log", "export", str(tmp_path / "out.jsonl"), "--index", index]) == 0
    assert "wrote 1 judged questions" in capsys.readouterr().out
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))["label"] == "answered-right"
