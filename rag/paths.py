"""Where the project keeps what it builds outside the index: the default model build, the reader's
training checkpoints. A module of its own so that every layer can import it (no cycle)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """$RAG_CACHE_DIR, else the user's cache directory + /rag-zh."""
    configured = os.environ.get("RAG_CACHE_DIR")
    if configured:
        return Path(configured)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rag-zh"))
