"""Where a knowledge base is kept: the interface (`base.py`) and its implementations, chosen by
`RAG_STORE` (`files`: FAISS generations in the index folder, the default; `milvus`: Milvus or
milvus-lite at `RAG_MILVUS_URI`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.store.base import FORMAT_VERSION, DocumentRows, Hits, Manifest, Snapshot, Store, Update, rebuild_hint, write_sources

if TYPE_CHECKING:
    from rag.config import Settings

__all__ = [
    "FORMAT_VERSION",
    "DocumentRows",
    "Hits",
    "Manifest",
    "Snapshot",
    "Store",
    "Update",
    "copy_state",
    "manifest_of",
    "open_store",
    "rebuild_hint",
    "write_sources",
]


def open_store(settings: "Settings") -> Store:
    """The store the settings name (the Milvus client is imported only when asked for)."""
    if settings.store == "milvus":
        from rag.store.milvus import MilvusStore

        return MilvusStore(settings.milvus_uri or str(settings.index_dir / "milvus.db"), settings.milvus_collection, settings.index_dir)
    from rag.store.files import FilesStore

    return FilesStore(settings.index_dir, settings.faiss_index)


def manifest_of(settings: "Settings") -> Manifest:
    """The configured store's published manifest (IndexNotFoundError, IndexCorruptError)."""
    store = open_store(settings)
    try:
        return store.manifest()
    finally:
        store.close()


def copy_state(source: Store, target: Store) -> Snapshot:
    """Publish the source's state in the target, vectors and all (nothing is embedded again); the
    target's previous state, if any, is replaced. Returns the target's new state."""
    state = source.open(check_format=True)
    by_doc: dict[str, list] = {}
    for chunk in state.chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    put = [
        DocumentRows(doc, by_doc.get(doc_id, []), state.vectors([c.chunk_id for c in by_doc.get(doc_id, [])]))
        for doc_id, doc in sorted(state.documents.items())
    ]
    target.write(Update(state.manifest, put, replace_all=True), None)
    return target.open(model=state.manifest.model, dimension=state.manifest.dimension)
