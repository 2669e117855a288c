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

from conftest import ROOT, FakeEmbedder
from rag import Assistant, Settings, build_index
from rag.store.files import live_generation, read_index

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

    settings = replace(Settings.from_env(), index_dir=Path({index!r}))
    build_index([Path({docs!r})], settings, Slow())
    """
)


def test_sigkill_mid_indexing_keeps_previous_index_and_resumes(tmp_path, seed_copy):
    settings = replace(Settings.from_env(), index_dir=tmp_path / "index")
    build_index([seed_copy], settings, FakeEmbedder())
    before = live_generation(settings.index_dir)

    for i in range(40):  # enough new documents for several embedding batches
        (seed_copy / f"extra-{i:02d}.txt").write_text(f"第{i}号补充文件。\n\n" + "内容涉及中小企业数字化转型和政务服务。" * 40, encoding="utf-8")
    code = CHILD.format(tests=str(ROOT / "tests"), index=str(settings.index_dir), docs=str(seed_copy))
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    cache = settings.index_dir / ".embed-cache"
    deadline = time.time() + 120
    while time.time() < deadline and not (cache.exists() and len(list(cache.rglob("*.npy"))) >= 3):
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL

    assert live_generation(settings.index_dir) == before  # nothing half-written was published
    data = read_index(settings.index_dir, model="fake-hash-embedder", dimension=64)
    assert len(data.documents) == 1
    answer = Assistant(settings, embedder=FakeEmbedder()).ask("免申即享包括哪些政策?")
    assert "稳岗返还" in answer.text

    resumed = FakeEmbedder()
    report = build_index([seed_copy], settings, resumed)
    total_new = report.chunks - len(data.chunks)
    assert report.ok and len(report.added) == 40
    assert 0 < report.embedded_chunks < total_new  # finished documents came from the cache
    assert not cache.exists()  # cleared once the new generation is live
