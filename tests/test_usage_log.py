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
    for log_id, verdict, no_answer, label, should in [
        (answered, "up", False, "answered-right", True),
        (answered, "down", False, "wrong-answer", None),  # wrong, but whether the documents answer it is not said
        (answered, "down", True, "unanswerable", False),  # 以上段落都不能回答: should be refused
        (refused, "up", False, "rightly-refused", False),
        (refused, "down", False, "wrongly-refused", True),
    ]:
        log.feedback(log_id, verdict, no_answer=no_answer)
        entry = {e.question.id: e for e in log.read().entries}[log_id]
        assert (entry.label, entry.should_answer) == (label, should)
    assert {e.label for e in QuestionLog(tmp_path / "log").read().entries} == {"unanswerable", "wrongly-refused"}


def test_the_export_keeps_the_explicit_no_answer_and_leaves_out_a_bare_thumbs_down(tmp_path):
    log = QuestionLog(tmp_path / "log")
    no_answer, wrong = _record(log, "火星上有水吗?"), _record(log, "稳岗返还是什么?")
    log.feedback(no_answer, "down")
    log.feedback(no_answer, "down", no_answer=True)
    log.feedback(wrong, "down")
    exported = export_rows(log.read().judged, lambda span: "答")
    assert [(r["question"], r["label"], r["answerable"], r["docs"]) for r in exported.rows] == [("火星上有水吗?", "unanswerable", False, [])]
    assert exported.left_out == {"wrong-answer": 1}


def test_a_thumbs_down_of_the_first_logs_reads_as_a_wrong_answer(tmp_path):
    """Logs written before 以上段落都不能回答 existed: a 👎 alone is read, not guessed to be unanswerable."""
    log = QuestionLog(tmp_path / "log")
    log_id = _record(log)
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"type": "feedback", "id": log_id, "time": "2026-12-08T00:00:00Z", "verdict": "down"}) + "\n")
    entry = log.read().entries[0]
    assert (entry.label, entry.should_answer, entry.relevant) == ("wrong-answer", None, None)


def _faq_record(log: QuestionLog, kind: str | None = "faq") -> str:
    """A question answered from FAQ entry 3, as the log holds it (`kind` None: as the first logs did)."""
    log_id = log.new_id()
    citation = {"doc": "faq#3", "start": 0, "end": 9, "score": 0.97} | ({"kind": kind} if kind else {})
    raw = {"type": "question", "id": log_id, "time": "2026-12-08T00:00:00Z", "kb": "kb", "question": "怎么办护照?", "refused": False}
    raw |= {"answer": "去出入境管理局。[1]", "span": "去出入境管理局。", "citations": [citation], "passages": [citation]}
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(raw, ensure_ascii=False) + "\n")
    return log_id


@pytest.mark.parametrize("kind", ["faq", None])
def test_a_thumbs_up_on_an_faq_answer_is_no_evidence_about_the_documents(tmp_path, kind):
    log = QuestionLog(tmp_path / "log")
    log.folder.mkdir(parents=True, exist_ok=True)
    log_id = _faq_record(log, kind)
    log.feedback(log_id, "up")
    entry = log.read().entries[0]
    assert entry.question.citations[0].is_faq
    assert (entry.label, entry.should_answer, entry.relevant) == ("faq-answered", None, None)
    exported = export_rows(log.read().judged, lambda span: "去出入境管理局。")
    assert exported.rows == [] and exported.left_out == {"faq-answered": 1}


def _answered_from_the_faq(assistant, monkeypatch) -> None:
    """`assistant` answers every question from FAQ entry 3, cited as rag/faq cites an entry (the
    fake embedder matches no paraphrase; tests/test_faq.py tests the matching)."""
    from rag.types import Answer, Chunk, Citation, Passage

    text = "到户籍所在地出入境管理部门申请。"
    passage = Passage(Chunk("FAQ #3", "faq#3", 0, len(text), text), 0.97, rank=1)
    cited = Citation(1, "faq#3", "怎么办理护照？", "", text, 0, len(text), passage, kind="faq")

    def ask_in_context(question, history=None):
        return Answer(question, f"{text}[1]", False, (cited,), passages=(passage,), confidence=0.97), assistant.documents

    monkeypatch.setattr(assistant, "ask_in_context", ask_in_context)


def test_the_simulated_user_leaves_an_faq_answer_unjudged(rules_assistant, monkeypatch, tmp_path):
    from rag.evaluation.datasets import EvalSet, jsonl_question
    from rag.usage.simulate import simulate_judgments

    _answered_from_the_faq(rules_assistant, monkeypatch)
    rows = [{"question": SEED_QUESTION, "answers": ["稳岗返还"], "docs": ["x.txt"]}, {"question": UNANSWERABLE, "answerable": False}]
    evalset = EvalSet("faq", tmp_path, tuple(jsonl_question(str(i), r) for i, r in enumerate(rows)), "jsonl")
    log = QuestionLog(tmp_path / "log")
    given = simulate_judgments(log, rules_assistant, evalset, evalset.questions)
    assert given == {"FAQ answer, not judged": 2} and log.read().judged == []


def test_an_faq_answer_is_logged_as_one(rules_assistant, monkeypatch):
    _answered_from_the_faq(rules_assistant, monkeypatch)
    asked = ask_logged(rules_assistant, "怎么办理护照？")
    assert asked.log_id
    raw = json.loads((rules_assistant.settings.index_dir / "log" / "questions.jsonl").read_text(encoding="utf-8"))
    assert raw["citations"][0]["kind"] == "faq" and raw["citations"][0]["doc"].startswith("faq#")
    from rag.usage.asking import passages_to_pick

    offered = passages_to_pick(rules_assistant, "怎么办理护照？", asked.answer.passages)
    assert offered and all(p.chunk.doc_id in rules_assistant.documents for p in offered)  # no FAQ entry to pick


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
