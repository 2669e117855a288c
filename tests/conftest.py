"""Shared fixtures. The real-model fixtures build e5 once per run (into RAG_CACHE_DIR or the user's
cache) and index the seed documents into a temporary folder."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = next(SEEDS.glob("*.txt"))
SEED_QUESTION = "免申即享包括哪些政策?"
FOUR_POLICIES = ("水利建设基金", "文化事业建设费", "技改项目融资支持", "稳岗返还")


@dataclass(frozen=True)
class FakeInfo:
    model: str = "fake-hash-embedder"
    dimension: int = 64
    device: str = "cpu"
    dtype: str = "float32"
    max_tokens: int = 512
    backend: str = "fake-hash"


class FakeEmbedder:
    """Deterministic, instant stand-in: hashed character bigrams, L2-normalised."""

    def __init__(self, model: str = "fake-hash-embedder", dimension: int = 64):
        self.info = FakeInfo(model=model, dimension=dimension)
        self.calls = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.info.dimension, np.float32)
        for a, b in zip(text, text[1:]):
            v[int(hashlib.md5((a + b).encode()).hexdigest(), 16) % self.info.dimension] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts):
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.info.dimension), np.float32)

    def encode_passages(self, texts, show_progress=False):
        self.calls += len(texts)
        return self.encode_queries(texts)


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture(scope="session")
def embedder():
    from rag.embedding import Embedder

    return Embedder(dtype="float32", query_engine="model")


@pytest.fixture(scope="session")
def torch_embedder():
    """sentence-transformers in float32: the reference the other encoders are held to."""
    from rag.embedding import Embedder

    return Embedder(backend="torch", dtype="float32", query_engine="model")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, embedder):
    from rag import Settings, build_index

    folder = tmp_path_factory.mktemp("seed-index")
    settings = replace(Settings.from_env(), index_dir=folder)
    report = build_index([SEEDS], settings, embedder)
    assert report.ok and report.chunks > 0
    return settings


@pytest.fixture(scope="session")
def assistant(seed_index, embedder):
    from rag import Assistant

    return Assistant(seed_index, embedder=embedder)


@pytest.fixture
def seed_copy(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SEED_FILE, folder / SEED_FILE.name)
    return folder
