"""Per-document vectors saved while a long indexing run progresses, so an interrupted run resumes
without re-embedding finished documents.

Folder: `<index>/.embed-cache/<key>/<document sha256>.npy`, where the key names the model, its
dimension, the chunk settings and the index format (chunking is deterministic, so a document's hash fixes its chunks).
Each file is written to a temporary name and renamed, so a killed run leaves only whole files. The
cache is cleared once a generation that holds those documents is published.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np


class EmbeddingCache:
    def __init__(self, index_dir: Path, model: str, dimension: int, chunk_size: int, chunk_overlap: int, chunker: int = 0) -> None:
        key = hashlib.sha256(f"{model}|{dimension}|{chunk_size}|{chunk_overlap}|{chunker}".encode()).hexdigest()[:16]
        self.root = index_dir / ".embed-cache"
        self.folder = self.root / key
        self.dimension = dimension

    def get(self, content_hash: str, n_chunks: int) -> np.ndarray | None:
        path = self.folder / f"{content_hash}.npy"
        try:
            vectors = np.load(path)
        except (OSError, ValueError, EOFError):
            return None
        if vectors.shape != (n_chunks, self.dimension):
            return None
        return vectors

    def put(self, content_hash: str, vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{content_hash}.{os.getpid()}.npy"
        np.save(tmp, vectors.astype(np.float32))
        os.replace(tmp, self.folder / f"{content_hash}.npy")

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
