"""A process killed with SIGKILL while indexing leaves the previous index loadable and answering,
and the next run resumes without re-embedding the documents finished before the kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import pytest

from conftest import ROOT, FakeEmbedder
from rag import Assistant, Settings, build_index
from rag.store import open_store

CHILD = textwrap.dedent(
    """
    import sys, time
    from dataclasses import replace
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from conftest import FakeEmbedder
    from rag import Settings, build_index

    class Slow(FakeEmbedder):
        def encode_passages(self, texts, show_progress=False):
            time.sleep(0.3)
            return super().encode_passages(texts)

    settings = replace(Settings.from_env(), index_dir=Path({index!r}), store={store!r})
    build_index([Path({docs!r})], settings, Slow())
    """
)


def _release(settings) -> None:
    """A milvus-lite file serves one process: this one lets go before another opens it."""
    if settings.store == "milvus":
        from rag.store.milvus import release_clients

        release_clients()


@pytest.mark.parametrize("store", ["files", "milvus"])
def test_sigkill_mid_indexing_keeps_previous_index_and_resumes(tmp_path, seed_copy, store):
    settings = replace(Settings.from_env(), index_dir=tmp_path / "index", store=store)
    build_index([seed_copy], settings, FakeEmbedder())
    before = open_store(settings).live_version()
    _release(settings)

    for i in range(40):  # enough new documents for several embedding batches
        (seed_copy / f"extra-{i:02d}.txt").write_text(f"第{i}号补充文件。\n\n" + "内容涉及中小企业数字化转型和政务服务。" * 40, encoding="utf-8")
    code = CHILD.format(tests=str(ROOT / "tests"), index=str(settings.index_dir), docs=str(seed_copy), store=store)
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    cache = settings.index_dir / ".embed-cache"
    deadline = time.time() + 120
    while time.time() < deadline and not (cache.exists() and len(list(cache.rglob("*.npy"))) >= 3):
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL

    assert open_store(settings).live_version() == before  # nothing half-written was published
    data = open_store(settings).open(model="fake-hash-embedder", dimension=64)
    assert len(data.documents) == 1
    answer = Assistant(settings, embedder=FakeEmbedder()).ask("免申即享包括哪些政策?")
    assert "稳岗返还" in answer.text

    resumed = FakeEmbedder()
    report = build_index([seed_copy], settings, resumed)
    total_new = report.chunks - len(data.chunks)
    assert report.ok and len(report.added) == 40
    assert 0 < report.embedded_chunks < total_new  # finished documents came from the cache
    assert not cache.exists()  # cleared once the new generation is live
    assert len(Assistant(settings, embedder=FakeEmbedder()).documents) == 41
    _release(settings)


MID_WRITE = textwrap.dedent(
    """
    import sys, time
    from dataclasses import replace
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from conftest import FakeEmbedder
    from rag import Settings, build_index
    from rag.store import milvus

    real = milvus.MilvusStore._insert

    def slow_insert(self, kind, rows):  # rows go in slowly, and the parent is told when the first are in
        real(self, kind, rows)
        Path({marker!r}).touch()
        time.sleep(0.5)

    milvus.MilvusStore._insert = slow_insert
    settings = replace(Settings.from_env(), index_dir=Path({index!r}), store="milvus")
    build_index([Path({docs!r})], settings, FakeEmbedder())
    """
)


def test_sigkill_while_milvus_rows_are_written_keeps_the_previous_state(tmp_path, seed_copy):
    pytest.importorskip("pymilvus")
    settings = replace(Settings.from_env(), index_dir=tmp_path / "index", store="milvus")
    build_index([seed_copy], settings, FakeEmbedder())
    before = open_store(settings).live_version()
    _release(settings)
    seed = next(seed_copy.glob("*.txt"))
    seed.write_text(seed.read_text(encoding="utf-8").replace("稳岗返还", "稳岗补贴"), encoding="utf-8")  # a changed document
    (seed_copy / "extra.txt").write_text("补充文件。" + "内容涉及中小企业数字化转型。" * 40, encoding="utf-8")
    marker = tmp_path / "rows-written"
    code = MID_WRITE.format(tests=str(ROOT / "tests"), index=str(settings.index_dir), docs=str(seed_copy), marker=str(marker))
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.time() + 120
    while time.time() < deadline and not marker.exists() and child.poll() is None:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert marker.exists() and child.returncode == -signal.SIGKILL

    assert open_store(settings).live_version() == before
    assistant = Assistant(settings, embedder=FakeEmbedder())
    assert len(assistant.documents) == 1 and len(assistant.data.chunks) == assistant.data.manifest.chunk_count
    assert "稳岗返还" in assistant.ask("免申即享包括哪些政策?").text  # the old version answers, once
    assert not assistant.data.knows("补贴") or "补贴" in assistant.documents[seed.name].text
    report = build_index([seed_copy], settings, FakeEmbedder())  # the next run clears the debris and publishes
    assert report.ok and report.changed == [seed.name] and report.added == ["extra.txt"]
    assistant = Assistant(settings, embedder=FakeEmbedder())
    passages = assistant.search("稳岗补贴", k=20, mode="bm25").passages
    assert len({p.chunk.chunk_id for p in passages}) == len(passages) and "稳岗补贴" in passages[0].chunk.text
    _release(settings)
