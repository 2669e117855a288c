"""Where a knowledge base is kept: the interface (`base.py`) and its implementations, chosen by
`RAG_STORE` (`files`: FAISS generations in the index folder, the default; `milvus`: Milvus or
milvus-lite at `RAG_MILVUS_URI`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import FORMAT_VERSION, DocumentRows, Hits, Manifest, Snapshot, Store, Update, rebuild_hint, write_sources

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["FORMAT_VERSION", "DocumentRows", "Hits", "Manifest", "Snapshot", "Store", "Update", "manifest_of", "open_store", "rebuild_hint", "write_sources"]


def open_store(settings: "Settings") -> Store:
    """The store the settings name (the Milvus client is imported only when asked for)."""
    if settings.store == "milvus":
        from .milvus import MilvusStore

        return MilvusStore(settings.milvus_uri or str(settings.index_dir / "milvus.db"), settings.milvus_collection, settings.index_dir)
    from .files import FilesStore

    return FilesStore(settings.index_dir)


def manifest_of(settings: "Settings") -> Manifest:
    """The configured store's published manifest (IndexNotFoundError, IndexCorruptError)."""
    store = open_store(settings)
    try:
        return store.manifest()
    finally:
        store.close()
