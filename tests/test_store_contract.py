"""One contract, every store: add, replace, remove, search, reopen, refresh, a crash mid-write,
questions during an update, and the same answers from both stores (milvus-lite in CI)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import FakeEmbedder
from rag import Assistant, Settings, build_index
from rag.errors import IndexNotFoundError
from rag.store import open_store

STORES = ["files", "milvus"]
POLICY = "关于开展“免申即享”工作的通知。免申即享包括水利建设基金、文化事业建设费、省技改项目融资支持和失业保险稳岗返还四项政策。"
PARK = "科技园区管理办法。园区企业可以申请研发费用补助，补助比例不超过百分之二十。申请材料包括营业执照和研发费用明细。"
TRAIN = "职业技能培训补贴实施细则。参加培训并取得证书的劳动者，可以按规定领取职业技能培训补贴。"


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    """A milvus-lite server in a process of its own: the network path a Milvus server or cluster
    takes (`RAG_MILVUS_URI=http://...`)."""
    pytest.importorskip("pymilvus")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp_path_factory.mktemp("milvus-server") / "data"
    server = subprocess.Popen([str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)])
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(params=["files", "milvus", "milvus-server"])
def settings(request, tmp_path):
    base = replace(Settings.from_env(), index_dir=tmp_path / "index")
    if request.param == "files":
        yield replace(base, store="files")
        return
    pytest.importorskip("pymilvus")
    from rag.store.milvus import release_clients

    if request.param == "milvus-server":  # one server for the module: each test its own knowledge base
        uri = request.getfixturevalue("milvus_server")
        yield replace(base, store="milvus", milvus_uri=uri, milvus_collection=f"kb_{uuid.uuid4().hex[:10]}")
    else:
        yield replace(base, store="milvus")
    release_clients()


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in (("policy.txt", POLICY), ("park.txt", PARK), ("train.txt", TRAIN)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _ids(assistant: Assistant, query: str, mode: str = "hybrid", k: int = 3) -> list[str]:
    return [p.chunk.chunk_id for p in assistant.search(query, k=k, mode=mode).passages]


def test_nothing_published_yet(settings):
    store = open_store(settings)
    assert store.live_version() is None
    with pytest.raises(IndexNotFoundError, match="python -m rag index"):
        store.manifest()
    with pytest.raises(IndexNotFoundError):
        store.open()


def test_add_then_search_both_sides(settings, docs):
    report = build_index([docs], settings, FakeEmbedder())
    assert report.ok and len(report.added) == 3
    manifest = open_store(settings).manifest()
    assert sorted(manifest.documents) == ["park.txt", "policy.txt", "train.txt"] and manifest.chunk_count == report.chunks
    assistant = Assistant(settings, embedder=FakeEmbedder())
    for mode in ("hybrid", "dense", "bm25"):
        assert _ids(assistant, "研发费用补助比例", mode)[0].startswith("park.txt#")
    snapshot = assistant.data
    hits = snapshot.lexical("职业技能培训补贴", 5)
    assert hits.ids[0].startswith("train.txt#") and all(s > 0 for s in hits.scores)
    assert np.allclose(snapshot.lexical_scores("职业技能培训补贴", hits.ids), hits.scores, rtol=1e-5)
    vector = FakeEmbedder().encode_queries(["职业技能培训补贴"])[0]
    dense = snapshot.dense(vector, 3)
    assert np.allclose(snapshot.dense_scores(vector, dense.ids), dense.scores, atol=1e-5)
    assert snapshot.knows("补贴") and not snapshot.knows("火箭") and snapshot.idf("火箭") > snapshot.idf("补贴")
    for chunk in snapshot.chunks:  # offsets are exact slices of the documents
        assert snapshot.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text


def test_replace_and_remove_touch_only_their_documents(settings, docs):
    build_index([docs], settings, FakeEmbedder())
    before = Assistant(settings, embedder=FakeEmbedder()).data
    old_version, park_ids = before.version, [c.chunk_id for c in before.chunks if c.doc_id == "park.txt"]
    (docs / "policy.txt").write_text(POLICY.replace("四项政策", "四项政策，自2025年起增加首台套保险补偿"), encoding="utf-8")
    (docs / "train.txt").unlink()
    report = build_index([docs], settings, FakeEmbedder())
    assert report.changed == ["policy.txt"] and report.removed == ["train.txt"] and report.unchanged == ["park.txt"]
    assistant = Assistant(settings, embedder=FakeEmbedder())
    after = assistant.data
    assert after.version != old_version and sorted(after.documents) == ["park.txt", "policy.txt"]
    assert [c.chunk_id for c in after.chunks if c.doc_id == "park.txt"] == park_ids
    assert "首台套" in assistant.search("首台套保险补偿", k=1).passages[0].chunk.text
    for mode in ("hybrid", "dense", "bm25"):
        assert not any(i.startswith("train.txt#") for i in _ids(assistant, "职业技能培训补贴", mode, k=5))
    assert after.manifest.chunk_count == len(after.chunks) and "train.txt" not in open_store(settings).manifest().documents
    assert not after.knows("证书")  # its terms left the statistics with it


def test_reopen_sees_the_same_state(settings, docs):
    build_index([docs], settings, FakeEmbedder())
    first = Assistant(settings, embedder=FakeEmbedder())
    expected = [(p.chunk.chunk_id, round(p.score, 6)) for p in first.search("免申即享包括哪些政策", k=3).passages]
    if settings.store == "milvus":
        from rag.store.milvus import release_clients

        release_clients()  # as a new process would: a new client on the same file
    again = Assistant(settings, embedder=FakeEmbedder())
    assert [(p.chunk.chunk_id, round(p.score, 6)) for p in again.search("免申即享包括哪些政策", k=3).passages] == expected
    assert again.data.version == first.data.version


def test_refresh_picks_up_another_writers_update(settings, docs):
    build_index([docs], settings, FakeEmbedder())
    assistant = Assistant(settings, embedder=FakeEmbedder())
    assert not assistant.refresh()
    extra = docs.parent / "extra"
    extra.mkdir()
    (extra / "new.txt").write_text("新能源汽车充电设施建设奖励办法。每个公共充电桩奖励三千元。", encoding="utf-8")
    build_index([extra], settings, FakeEmbedder(), keep_missing=True)
    assert assistant.refresh() and not assistant.refresh()
    assert _ids(assistant, "公共充电桩奖励", k=1)[0].startswith("new.txt#")
    assert len(assistant.documents) == 4


def test_a_crash_mid_write_leaves_the_previous_state_answering(settings, docs, monkeypatch):
    build_index([docs], settings, FakeEmbedder())
    version = open_store(settings).live_version()
    (docs / "park.txt").write_text(PARK.replace("百分之二十", "百分之三十"), encoding="utf-8")

    class Crash(Exception):
        pass

    if settings.store == "milvus":
        from rag.store import milvus

        real = milvus.MilvusStore._upsert_terms

        def crash_after_rows(self, rows):  # chunk rows and half the statistics are in: then the process dies
            if not rows:  # the recovery step at the start of the write: nothing to undo yet
                return real(self, rows)
            real(self, rows[: len(rows) // 2])
            raise Crash

        monkeypatch.setattr(milvus.MilvusStore, "_upsert_terms", crash_after_rows)
    else:
        from rag.store import files

        def crash(*args, **kwargs):
            raise Crash

        monkeypatch.setattr(files, "_fsync_dir", crash)
    with pytest.raises(Crash):
        build_index([docs], settings, FakeEmbedder())
    monkeypatch.undo()
    assert open_store(settings).live_version() == version
    assistant = Assistant(settings, embedder=FakeEmbedder())
    assert "百分之二十" in assistant.search("研发费用补助比例", k=1).passages[0].chunk.text
    assert len(assistant.data.chunks) == assistant.data.manifest.chunk_count
    assert not assistant.data.knows("三十")
    # the next write (another one: park.txt is put back as it was) clears what the crashed one left
    (docs / "park.txt").write_text(PARK, encoding="utf-8")
    (docs / "train.txt").unlink()
    report = build_index([docs], settings, FakeEmbedder())
    assert report.removed == ["train.txt"] and report.unchanged == ["park.txt", "policy.txt"]
    assistant = Assistant(settings, embedder=FakeEmbedder())
    assert not assistant.data.knows("三十") and assistant.data.knows("二十")  # the crashed write's statistics were undone
    assert len(assistant.data.chunks) == assistant.data.manifest.chunk_count
    found = _ids(assistant, "研发费用补助比例", mode="bm25", k=10)
    assert len(found) == len(set(found)) and "百分之二十" in assistant.search("研发费用补助比例", k=1).passages[0].chunk.text


def test_questions_during_an_update_all_get_answers(settings, docs):
    build_index([docs], settings, FakeEmbedder())
    assistant = Assistant(settings, embedder=FakeEmbedder())
    errors, answers = [], []
    stop = threading.Event()

    def ask():
        while not stop.is_set():
            try:
                answer = assistant.ask("免申即享包括哪些政策?")
                answers.append(answer)
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        extra = docs.parent / "extra"
        extra.mkdir()
        for n in range(3):
            (extra / f"n{n}.txt").write_text(f"第{n}号通知。本通知所称补贴为一次性补贴，标准为{n}千元。", encoding="utf-8")
            build_index([extra], settings, FakeEmbedder(), keep_missing=True)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors and answers and all(a.citations and "免申即享" in a.citations[0].quote for a in answers)
    assistant.refresh()
    assert len(assistant.documents) == 6


def test_both_stores_give_the_same_passages_and_scores(tmp_path, docs):
    pytest.importorskip("pymilvus")
    from rag.store.milvus import release_clients

    results = {}
    try:
        for store in STORES:
            settings = replace(Settings.from_env(), index_dir=tmp_path / store, store=store)
            build_index([docs, Path(__file__).parent.parent / "seeds"], settings, FakeEmbedder())
            assistant = Assistant(settings, embedder=FakeEmbedder())
            results[store] = [
                [(p.chunk.chunk_id, p.score, p.dense_score, p.lexical_score) for p in assistant.search(q, k=8).passages]
                for q in ("免申即享包括哪些政策", "研发费用补助比例", "失业保险稳岗返还", "数字经济")
            ]
    finally:
        release_clients()
    for files, milvus in zip(results["files"], results["milvus"]):
        assert [r[0] for r in files] == [r[0] for r in milvus]
        assert np.allclose([r[1:] for r in files], [r[1:] for r in milvus], rtol=1e-4, atol=1e-5)
