"""Index save → load → search round trip, manifest checks, crash safety, incremental updates."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from conftest import FakeEmbedder
from rag import Assistant, Settings, build_index
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.store import FORMAT_VERSION
from rag.store.files import live_generation, read_index, stored_vectors


@pytest.fixture
def settings(tmp_path):
    return replace(Settings.from_env(), index_dir=tmp_path / "index")


def test_round_trip(settings, seed_copy, fake_embedder):
    report = build_index([seed_copy], settings, fake_embedder)
    assert report.ok and report.added and report.chunks > 5
    data = read_index(settings.index_dir, model=fake_embedder.info.model, dimension=64)
    assert len(data.chunks) == report.chunks == data.vectors.ntotal
    assistant = Assistant(settings, embedder=fake_embedder)
    passages = assistant.search("失业保险稳岗返还", k=3).passages
    assert "稳岗返还" in passages[0].chunk.text
    for p in passages:
        doc = assistant.documents[p.chunk.doc_id]
        assert doc.text[p.chunk.start : p.chunk.end] == p.chunk.text


def test_manifest_mismatch_says_how_to_rebuild(settings, seed_copy, fake_embedder):
    build_index([seed_copy], settings, fake_embedder)
    with pytest.raises(IndexMismatchError, match="python -m rag index"):
        read_index(settings.index_dir, model="BAAI/bge-small-zh-v1.5", dimension=64)
    with pytest.raises(IndexMismatchError, match="dimension"):
        read_index(settings.index_dir, model=fake_embedder.info.model, dimension=384)


def test_missing_index(settings):
    with pytest.raises(IndexNotFoundError, match="python -m rag index"):
        read_index(settings.index_dir)


@pytest.mark.parametrize("name", ["vectors.faiss", "chunks.jsonl", "documents.jsonl", "manifest.json", "bm25.npz"])
def test_damaged_file_names_itself(settings, seed_copy, fake_embedder, name):
    build_index([seed_copy], settings, fake_embedder)
    target = live_generation(settings.index_dir) / name
    target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 3])
    with pytest.raises(IndexCorruptError) as err:
        read_index(settings.index_dir, model=fake_embedder.info.model, dimension=64)
    assert "rebuild" in str(err.value)


def test_a_vector_index_that_cannot_give_vectors_back_is_refused(settings, seed_copy, fake_embedder):
    import faiss

    report = build_index([seed_copy], settings, fake_embedder)
    other = faiss.IndexLSH(64, 128)  # right size, but its vectors cannot be read back: not what this store writes
    other.add(np.zeros((report.chunks, 64), np.float32))
    faiss.write_index(other, str(live_generation(settings.index_dir) / "vectors.faiss"))
    with pytest.raises(IndexCorruptError, match="checksum differs"):
        read_index(settings.index_dir, model=fake_embedder.info.model, dimension=64)
    with pytest.raises(IndexCorruptError, match="not a flat or HNSW vector index"):  # an index written before checksums
        read_index(settings.index_dir, model=fake_embedder.info.model, dimension=64, verify=False)


def test_edited_document_text_is_caught_by_chunk_checksums(settings, seed_copy, fake_embedder):
    build_index([seed_copy], settings, fake_embedder)
    target = live_generation(settings.index_dir) / "documents.jsonl"
    target.write_text(target.read_text(encoding="utf-8").replace("稳岗返还", "稳岗退还", 1), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="checksum differs"):
        read_index(settings.index_dir)
    with pytest.raises(IndexCorruptError, match="does not match its document"):  # written before checksums
        read_index(settings.index_dir, verify=False)


def test_chunks_share_their_document_text(settings, seed_copy, fake_embedder):
    build_index([seed_copy], settings, fake_embedder)
    data = read_index(settings.index_dir)
    for chunk in data.chunks:  # one copy of the corpus in memory, not one per chunk
        assert chunk.source is data.documents[chunk.doc_id].text


def test_reindex_unchanged_embeds_nothing_and_change_embeds_one(settings, seed_copy, fake_embedder):
    (seed_copy / "other.txt").write_text("另一份文件。内容与数字化转型有关。", encoding="utf-8")
    first = build_index([seed_copy], settings, fake_embedder)
    ids_before = [c.chunk_id for c in read_index(settings.index_dir).chunks]
    again = FakeEmbedder()
    second = build_index([seed_copy], settings, again)
    assert again.calls == 0 and second.embedded_chunks == 0 and len(second.unchanged) == 2
    assert [c.chunk_id for c in read_index(settings.index_dir).chunks] == ids_before
    (seed_copy / "other.txt").write_text("另一份文件。内容改了。", encoding="utf-8")
    third = build_index([seed_copy], settings, again)
    assert third.changed == ["other.txt"] and again.calls == 1 and first.chunks >= third.chunks
    (seed_copy / "other.txt").unlink()
    fourth = build_index([seed_copy], settings, again)
    assert fourth.removed == ["other.txt"]


def test_an_edit_re_embeds_only_the_chunks_it_changed(settings, seed_copy, fake_embedder):
    seed = next(seed_copy.glob("*.txt"))
    build_index([seed_copy], settings, fake_embedder)
    before = read_index(settings.index_dir)
    seed.write_text(seed.read_text(encoding="utf-8") + "\n\n附件:会议纪要一份。\n", encoding="utf-8")
    again = FakeEmbedder()
    report = build_index([seed_copy], settings, again)
    after = read_index(settings.index_dir)
    assert report.changed == [seed.name] and len(after.chunks) > 5
    assert 1 <= report.embedded_chunks == again.calls <= 2  # the new last chunk (and the one it overlaps)
    vectors = {c.text: v for c, v in zip(before.chunks, stored_vectors(before))}
    for chunk, vector in zip(after.chunks, stored_vectors(after)):  # reused rows land on their own chunks
        if chunk.text in vectors:
            assert np.allclose(vector, vectors[chunk.text])


def test_bad_files_are_reported_and_the_rest_indexed(settings, seed_copy, fake_embedder):
    (seed_copy / "empty.txt").write_bytes(b"")
    (seed_copy / "binary.txt").write_bytes(bytes(range(256)) * 8)
    report = build_index([seed_copy], settings, fake_embedder)
    assert not report.ok
    reasons = {p.path.rsplit("/", 1)[-1]: p.reason for p in report.problems}
    assert set(reasons) == {"empty.txt", "binary.txt"}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]
    assert report.documents == 1


def test_upgrading_an_old_format_index_reuses_its_vectors(settings, seed_copy, fake_embedder):
    build_index([seed_copy], settings, fake_embedder)
    folder = live_generation(settings.index_dir)
    documents = {json.loads(line)["doc_id"]: json.loads(line)["text"] for line in (folder / "documents.jsonl").read_text(encoding="utf-8").splitlines()}
    rows = []
    for line in (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines():  # format 3 kept a copy of the text
        raw = json.loads(line)
        raw["text"] = documents[raw["doc"]][raw["start"] : raw["end"]]
        del raw["crc"]
        rows.append(json.dumps(raw, ensure_ascii=False))
    (folder / "chunks.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("files")  # format 3 had no checksums
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 3}), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="format 3"):
        read_index(settings.index_dir)
    again = FakeEmbedder()
    report = build_index([seed_copy], settings, again)
    assert again.calls == 0 and report.embedded_chunks == 0
    assert read_index(settings.index_dir).manifest.format_version == FORMAT_VERSION


@pytest.mark.parametrize("write", ["add", "upload", "remove"])
def test_a_write_on_a_damaged_index_stops_and_touches_nothing(settings, seed_copy, fake_embedder, tmp_path, write):
    """Issue 16, defect 1: an unreadable index plus a partial write used to publish a generation
    holding only the new file (one document left, exit 0)."""
    build_index([seed_copy], settings, fake_embedder)
    live = live_generation(settings.index_dir)
    damaged = live / "chunks.jsonl"
    damaged.write_bytes(damaged.read_bytes()[:100])
    before = {p.name: p.read_bytes() for p in live.iterdir()}
    extra = tmp_path / "new.txt"
    extra.write_text("免申即享之外的一份新通知。", encoding="utf-8")
    kwargs = {
        "add": dict(sources=[extra], keep_missing=True),
        "upload": dict(sources=[], files=[(extra, "uploads/new.txt")]),
        "remove": dict(sources=[], keep_missing=True, remove=["nothing.txt"]),
    }[write]
    sources = kwargs.pop("sources")
    with pytest.raises(IndexCorruptError, match="rebuild"):
        build_index(sources, settings, fake_embedder, **kwargs)
    assert live_generation(settings.index_dir) == live
    assert {p.name: p.read_bytes() for p in live.iterdir()} == before


def test_a_partial_write_on_an_index_of_another_model_stops(settings, seed_copy, fake_embedder, tmp_path):
    build_index([seed_copy], settings, fake_embedder)
    live = live_generation(settings.index_dir)
    extra = tmp_path / "new.txt"
    extra.write_text("一份新通知。", encoding="utf-8")
    with pytest.raises(IndexMismatchError):
        build_index([extra], settings, FakeEmbedder(model="another-model"), keep_missing=True)
    assert live_generation(settings.index_dir) == live
    report = build_index([seed_copy], settings, FakeEmbedder(model="another-model"))  # a full rebuild replaces it
    assert report.ok and read_index(settings.index_dir, model="another-model", dimension=64).documents


@pytest.mark.parametrize("name", ["vectors.faiss", "chunks.jsonl", "documents.jsonl", "bm25.npz", "bm25.json"])
def test_a_flipped_byte_in_any_file_is_caught_by_its_checksum(settings, seed_copy, fake_embedder, name):
    """Issue 16, defect 6: flipped bytes inside vectors.faiss were used silently; a truncated
    bm25.json was reported as bm25.npz."""
    build_index([seed_copy], settings, fake_embedder)
    target = live_generation(settings.index_dir) / name
    data = bytearray(target.read_bytes())
    data[len(data) * 2 // 3] ^= 0x20  # one bit, deep inside (past any header)
    target.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=f"checksum differs\\): .*{name.replace('.', '[.]')}; rebuild"):
        read_index(settings.index_dir, model=fake_embedder.info.model, dimension=64)
    if name == "vectors.faiss":  # without the checksum this damage was used silently
        assert read_index(settings.index_dir, verify=False).vectors.ntotal


@pytest.mark.parametrize("pointer", [b"gen-1\x00\n", b"\xff\xfe", b"../../etc\n", b""])
def test_a_damaged_current_pointer_is_a_clear_error_everywhere(settings, seed_copy, fake_embedder, pointer):
    build_index([seed_copy], settings, fake_embedder)
    assistant = Assistant(settings, embedder=fake_embedder)
    (settings.index_dir / "CURRENT").write_bytes(pointer)
    with pytest.raises(IndexCorruptError, match="CURRENT does not name a generation; rebuild"):
        read_index(settings.index_dir)
    with pytest.raises(IndexCorruptError, match="CURRENT"):
        Assistant(settings, embedder=fake_embedder)
    assert assistant.refresh() is False and "稳岗返还" in assistant.ask("失业保险稳岗返还").text  # keeps answering
    report = build_index([seed_copy], settings, fake_embedder)  # the rebuild the message names replaces it
    assert report.ok and read_index(settings.index_dir).documents


def test_app_ask_add_docs_on_a_damaged_pointer_print_the_message_and_index_rebuilds(settings, seed_copy, fake_embedder):
    import subprocess
    import sys

    from conftest import ROOT

    build_index([seed_copy], settings, fake_embedder)
    (settings.index_dir / "CURRENT").write_bytes(b"gen-1\x00")
    for command in (["app.py"], ["-m", "rag", "ask", "免申即享包括哪些政策?"], ["-m", "rag", "add", str(seed_copy)], ["-m", "rag", "docs"]):
        done = subprocess.run([sys.executable, *command, "--index", str(settings.index_dir)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-1500:]
        assert "does not name a generation" in done.stderr
    rebuilt = subprocess.run(
        [sys.executable, "-m", "rag", "index", str(seed_copy), "--index", str(settings.index_dir), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rebuilt.returncode == 0 and "Traceback" not in rebuilt.stderr, rebuilt.stderr[-1500:]  # a full rebuild replaces it


def test_a_full_rebuild_keeps_the_uploads_and_the_hint_names_the_sources(settings, seed_copy, fake_embedder, tmp_path):
    """Issue 16, defect 5: the rebuild the error message suggested dropped every upload."""
    from rag.indexing.uploads import KnowledgeBase

    build_index([seed_copy], settings, fake_embedder)
    upload = tmp_path / "incoming.txt"
    upload.write_text("关于上传文件的通知\n\n上传的文件在重建索引后仍然可以检索到。", encoding="utf-8")
    KnowledgeBase(settings, fake_embedder).add([(upload, "通知.txt")])
    docs = set(read_index(settings.index_dir).documents)
    assert any(d.startswith("uploads/") for d in docs)
    live = live_generation(settings.index_dir)
    (live / "chunks.jsonl").write_bytes(b"damaged")
    with pytest.raises(IndexCorruptError) as err:
        read_index(settings.index_dir)
    message = str(err.value)
    assert f"python -m rag index {seed_copy.resolve()} --index {settings.index_dir}" in message and "uploads" in message
    report = build_index([seed_copy], settings, fake_embedder)  # what the message says to run
    assert report.ok and set(read_index(settings.index_dir).documents) == docs
    uploaded = next(d for d in docs if d.startswith("uploads/"))
    KnowledgeBase(settings, fake_embedder).remove(uploaded)  # a removed upload loses its stored copy too
    orphan = settings.index_dir / "uploads" / "orphan.txt"  # a copy the index does not hold (an older version's removal)
    orphan.write_text("一份已经删除的上传文件。", encoding="utf-8")
    build_index([seed_copy], settings, fake_embedder)
    assert set(read_index(settings.index_dir).documents) == docs - {uploaded}  # the readable index decides
    extra = tmp_path / "added.txt"
    extra.write_text("用 rag add 加入的文件。", encoding="utf-8")
    build_index([extra], settings, fake_embedder, keep_missing=True)  # `rag add`: named by the hint too
    (live_generation(settings.index_dir) / "chunks.jsonl").write_bytes(b"damaged")
    with pytest.raises(IndexCorruptError, match=f"index {seed_copy.resolve()} {extra.resolve()} --index"):
        read_index(settings.index_dir)


def test_checksums_cost_is_a_hash_of_each_file(settings, seed_copy, fake_embedder):
    build_index([seed_copy], settings, fake_embedder)
    manifest = read_index(settings.index_dir).manifest
    assert set(manifest.files) == {"vectors.faiss", "chunks.jsonl", "documents.jsonl", "bm25.npz", "bm25.json"}


def test_an_approximate_vector_index_gives_the_exact_answers_on_a_small_collection(settings, seed_copy, fake_embedder):
    import faiss

    from rag.ingest.chunking import embedding_text
    from rag.store import copy_state
    from rag.store.files import FilesStore

    build_index([seed_copy], settings, fake_embedder)
    hnsw = replace(settings, index_dir=settings.index_dir.parent / "hnsw", faiss_index="hnsw")
    copy_state(FilesStore(settings.index_dir), FilesStore(hnsw.index_dir, "hnsw"), embedding_text)  # the same vectors, another index
    data = read_index(hnsw.index_dir)
    assert isinstance(data.vectors, faiss.IndexHNSWFlat) and data.vectors.hnsw.efSearch >= 64
    assert np.array_equal(stored_vectors(data), stored_vectors(read_index(settings.index_dir)))
    exact, approximate = Assistant(settings, embedder=fake_embedder), Assistant(hnsw, embedder=fake_embedder)
    for question in ("失业保险稳岗返还", "免申即享包括哪些政策", "数字经济"):
        expected = [(p.chunk.chunk_id, round(p.score, 6)) for p in exact.search(question, k=5).passages]
        assert [(p.chunk.chunk_id, round(p.score, 6)) for p in approximate.search(question, k=5).passages] == expected
