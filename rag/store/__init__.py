"""Where a knowledge base is kept: the interface (`base.py`) and its implementations, chosen by
`RAG_STORE` (`files`: FAISS generations in the index folder, the default; `milvus`: Milvus or
milvus-lite at `RAG_MILVUS_URI`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rag.errors import RagError
from rag.store.base import FORMAT_VERSION, DocumentRows, Hits, Manifest, Snapshot, Store, Update, rebuild_hint, write_sources

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.types import Chunk

__all__ = [
    "FORMAT_VERSION",
    "DocumentRows",
    "Hits",
    "Manifest",
    "Snapshot",
    "Store",
    "Update",
    "copy_state",
    "index_backends",
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


def index_backends(settings: "Settings") -> list[str] | None:
    """The embedding backends whose vectors the files-store index in `settings.index_dir` holds (its
    manifest's embed_backends), for Embedder.from_settings to keep with `auto`; None when there is
    no index, it is damaged, or it is in Milvus (not opened to find out)."""
    if settings.store != "files":
        return None
    from rag.store.files import read_manifest

    try:
        return read_manifest(settings.index_dir).embed_backends
    except (RagError, OSError):
        return None


def copy_state(source: Store, target: Store, text_of: Callable[[Chunk, str], str]) -> Snapshot:
    """Publish the source's state in the target, vectors and all (nothing is embedded again); the
    target's previous state, if any, is replaced. `text_of` is what the target's BM25 reads of a
    chunk (Update.text_of: the indexer's embedding_text). Returns the target's new state."""
    state = source.open(check_format=True)
    by_doc: dict[str, list] = {}
    for chunk in state.chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    put = [
        DocumentRows(doc, by_doc.get(doc_id, []), state.vectors([c.chunk_id for c in by_doc.get(doc_id, [])]))
        for doc_id, doc in sorted(state.documents.items())
    ]
    target.write(Update(state.manifest, put, replace_all=True, text_of=text_of), None)
    return target.open(model=state.manifest.model, dimension=state.manifest.dimension)
