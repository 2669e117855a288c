"""Per-document vectors saved while a long indexing run progresses, so an interrupted run resumes
without re-embedding finished documents.

Folder: `<index>/.embed-cache/<key>/<document sha256>-<title hash>.npy`, where the key names the
model, its dimension, the chunk settings and the index format (chunking is deterministic, so a
document's bytes and title fix its chunks and what is embedded).
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

    def _name(self, content_hash: str, title: str) -> str:
        """A document's vectors depend on its bytes and on its title (embedded with every chunk;
        a title can come from the file name, so equal bytes under two names can differ)."""
        return f"{content_hash}-{hashlib.sha256(title.encode('utf-8')).hexdigest()[:12]}"

    def get(self, content_hash: str, title: str, n_chunks: int) -> np.ndarray | None:
        path = self.folder / f"{self._name(content_hash, title)}.npy"
        try:
            vectors = np.load(path)
        except (OSError, ValueError, EOFError):
            return None
        if vectors.shape != (n_chunks, self.dimension):
            return None
        return vectors

    def put(self, content_hash: str, title: str, vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = self._name(content_hash, title)
        tmp = self.folder / f".{name}.{os.getpid()}.npy"
        np.save(tmp, vectors.astype(np.float32))
        os.replace(tmp, self.folder / f"{name}.npy")

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
