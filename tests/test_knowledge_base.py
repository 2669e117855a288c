"""Uploads: safe names, allowed types, size limit, stored copy == indexed; concurrent use."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from conftest import FakeEmbedder
from rag import Assistant, Settings, build_index
from rag.indexing.uploads import KnowledgeBase, sanitise_filename
from rag.ingest.load import content_hash
from rag.store.files import read_index


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../x.txt", "x.txt"),
        ("..\\..\\windows.txt", "windows.txt"),
        ("/etc/passwd", "passwd"),
        (".hidden.md", "hidden.md"),
        ("政策 汇编（2024）.TXT", "政策 汇编（2024）.txt"),
        ("a\x00b<script>.txt", "ab_script_.txt"),
        ("", "upload"),
    ],
)
def test_sanitise_filename(name, expected):
    assert sanitise_filename(name) == expected


@pytest.fixture
def kb(tmp_path, seed_copy):
    settings = replace(Settings.from_env(), index_dir=tmp_path / "index", max_file_bytes=10_000)
    embedder = FakeEmbedder()
    build_index([seed_copy], settings, embedder)
    return KnowledgeBase(settings, embedder), settings, embedder


def test_upload_lands_inside_and_is_what_was_indexed(kb, tmp_path):
    base, settings, embedder = kb
    src = tmp_path / "evil.txt"
    src.write_text("上传的文件。数字化转型试点。", encoding="utf-8")
    result = base.add([(src, "../../evil.txt")])
    assert result.report.added == ["uploads/evil.txt"] and not result.refused
    stored = settings.index_dir / "uploads" / "evil.txt"
    assert stored.read_bytes() == src.read_bytes()
    data = read_index(settings.index_dir)
    assert data.documents["uploads/evil.txt"].content_hash == content_hash(stored.read_bytes())
    assert {d.doc_id for d in base.documents()} >= {"uploads/evil.txt"}
    base.remove("uploads/evil.txt")
    assert not stored.exists() and "uploads/evil.txt" not in read_index(settings.index_dir).documents


def test_names_that_sanitise_alike_in_one_upload_stay_two_documents(kb, tmp_path):
    base, settings, _ = kb
    first, second = tmp_path / "one.txt", tmp_path / "two.txt"
    first.write_text("第一份通知。关于数字化转型。", encoding="utf-8")
    second.write_text("第二份通知。关于稳岗返还。", encoding="utf-8")
    result = base.add([(first, "政策?.txt"), (second, "政策*.txt")])
    assert sorted(result.report.added) == ["uploads/政策_(2).txt", "uploads/政策_.txt"]
    stored = settings.index_dir / "uploads"
    assert (stored / "政策_.txt").read_bytes() == first.read_bytes()
    assert (stored / "政策_(2).txt").read_bytes() == second.read_bytes()


def test_upload_refuses_wrong_type_and_too_large(kb, tmp_path):
    base, settings, _ = kb
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ" * 10)
    big = tmp_path / "big.txt"
    big.write_text("字" * 20_000, encoding="utf-8")
    result = base.add([(exe, "tool.exe"), (big, "big.txt")])
    assert len(result.refused) == 2
    assert "不支持" in result.refused[0] and "过大" in result.refused[1]
    assert not (settings.index_dir / "uploads" / "tool.exe").exists()


def test_folder_sync_keeps_uploads(kb, tmp_path, seed_copy):
    base, settings, embedder = kb
    src = tmp_path / "note.md"
    src.write_text("# 备忘\n\n上传的备忘内容。", encoding="utf-8")
    base.add([(src, "note.md")])
    report = build_index([seed_copy], settings, embedder)  # `python -m rag index seeds` again
    assert "uploads/note.md" not in report.removed
    assert "uploads/note.md" in read_index(settings.index_dir).documents


def test_concurrent_uploads_and_questions(kb, tmp_path):
    base, settings, embedder = kb
    assistant = Assistant(settings, embedder=embedder)
    failures: list[BaseException] = []

    def upload(i: int) -> None:
        try:
            src = tmp_path / f"doc{i}.txt"
            src.write_text(f"第{i}份上传文件。内容关于免申即享政策第{i}项。", encoding="utf-8")
            base.add([(src, f"doc{i}.txt")])
        except BaseException as exc:
            failures.append(exc)

    def ask() -> None:
        try:
            for _ in range(15):
                answer = assistant.ask("免申即享包括哪些政策?")
                assert "稳岗返还" in answer.text, answer.text
                for c in answer.citations:
                    assert assistant.documents[c.doc_id].text[c.start : c.end] == c.quote
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(6)] + [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    data = read_index(settings.index_dir)  # checks every chunk against its document
    assert {f"uploads/doc{i}.txt" for i in range(6)} <= set(data.documents)


def test_an_upload_onto_a_damaged_index_leaves_no_staged_file(tmp_path, seed_copy, fake_embedder):
    from dataclasses import replace

    from rag import Settings, build_index
    from rag.errors import IndexCorruptError
    from rag.indexing.uploads import KnowledgeBase
    from rag.store.files import live_generation

    settings = replace(Settings.from_env(), index_dir=tmp_path / "index")
    build_index([seed_copy], settings, fake_embedder)
    damaged = live_generation(settings.index_dir) / "documents.jsonl"
    damaged.write_bytes(damaged.read_bytes()[:50])
    upload = tmp_path / "tmp-upload"
    upload.write_text("一份新通知。", encoding="utf-8")
    kb = KnowledgeBase(settings, fake_embedder)
    with pytest.raises(IndexCorruptError):
        kb.add([(upload, "通知.txt")])
    assert [p.name for p in kb.upload_dir.iterdir()] == [".lock"]  # neither the stored copy nor its staging file


def test_parallel_uploads_of_one_name_all_index_and_disk_agrees_with_index(kb, tmp_path):
    """Issue 16, defect 4: they shared one staging file (3 of 4 failed, disk and index disagreed)."""
    kb, settings, _ = kb
    errors, results = [], []

    def upload(i: int) -> None:
        source = tmp_path / f"src{i}.txt"
        source.write_text(f"第{i}版通知：免申即享政策第{i}条。" * 3, encoding="utf-8")
        try:
            results.append(kb.add([(source, "same.txt")]))
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(not r.report.problems for r in results)
    stored = (kb.upload_dir / "same.txt").read_bytes()
    data = read_index(settings.index_dir)
    assert data.documents["uploads/same.txt"].content_hash == content_hash(stored)
    assert not list(kb.upload_dir.glob(".incoming-*"))


def test_staging_files_of_a_crashed_upload_are_removed_at_start(kb):
    kb, settings, embedder = kb
    kb.upload_dir.mkdir(parents=True, exist_ok=True)
    stale = kb.upload_dir / ".incoming-abc123-通知.txt"
    stale.write_text("half", encoding="utf-8")
    kept = kb.upload_dir / "通知.txt"
    kept.write_text("stored", encoding="utf-8")
    KnowledgeBase(settings, embedder)
    assert not stale.exists() and kept.exists()


def test_staged_name_is_the_uploaded_name():
    from rag.indexing.uploads import staged_name

    assert staged_name("/x/uploads/.incoming-k3j_9a-通知-2024.txt") == "通知-2024.txt"


def test_the_web_list_says_when_the_index_cannot_be_read(tmp_path, seed_copy, fake_embedder):
    """A damaged index used to show as an empty knowledge base in the web tab."""
    from dataclasses import replace as _replace

    from rag import Settings, build_index
    from rag.indexing.uploads import KnowledgeBase
    from rag.serve.handlers import INDEX_UNREADABLE
    from rag.serve.web import build_app

    settings = _replace(Settings.from_env(), index_dir=tmp_path / "index")
    build_index([seed_copy], settings, fake_embedder)
    kb = KnowledgeBase(settings, fake_embedder)

    class Assistant:
        reader = type("Reader", (), {"name": "rules"})()
        reader_status = ""

    demo = build_app(Assistant(), kb)
    listing = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", None) == "doc_choices")  # JS-only events have no fn
    rows, _ = listing()
    assert rows and rows[0][0] != INDEX_UNREADABLE and rows[0][2] > 0  # the seed document and its chunks
    (settings.index_dir / "CURRENT").write_bytes(b"\x00")
    rows, choices = listing()
    assert rows == [[INDEX_UNREADABLE, "", ""]] and choices["choices"] == []
    assert kb.listing()[1] and "CURRENT" in kb.listing()[1]
