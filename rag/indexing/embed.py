"""Embedding for a build: the vectors of every chunk, reusing what the previous index and an
interrupted run's cache already hold, and encoding the rest in length-sorted windows."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from rag.indexing.embed_cache import EmbeddingCache
from rag.ingest.chunking import embedding_text
from rag.store import Snapshot
from rag.types import Chunk, Document


def text_key(chunk: Chunk, title: str) -> bytes:
    """Identity of what the embedder sees for a chunk: equal keys give equal vectors."""
    return hashlib.sha1(embedding_text(chunk, title).encode("utf-8")).digest()


def known_vectors(previous: Snapshot | None, doc_ids) -> dict[bytes, np.ndarray]:
    """The previous state's vectors of these documents' chunks, keyed by embedded text."""
    if previous is None:
        return {}
    chunks = [c for c in previous.chunks if c.doc_id in doc_ids]
    vectors = previous.vectors([c.chunk_id for c in chunks])
    return {text_key(c, previous.documents[c.doc_id].title): v for c, v in zip(chunks, vectors)}


# Chunk texts are gathered into windows and encoded shortest first, so each batch pads little; a
# document's vectors are saved for a resumed run once its window is done (an interrupted run loses
# at most one window: ~4 minutes at 18 chunks/s on 2 cores).
WINDOW = 4096
BATCH = 64


def embed_chunks(
    embedder,
    documents: list[Document],
    chunks_by_doc: dict[str, list[Chunk]],
    cache: EmbeddingCache,
    progress: Callable[[int, int], None] | None,
    known: dict[bytes, np.ndarray],
) -> tuple[np.ndarray, int]:
    """The vectors of every chunk of `documents`, in order, as one matrix, and how many were
    actually embedded. Documents finished by an earlier, interrupted run come from the cache, and
    chunks whose embedded text is in `known` (the previous index) are not embedded again: an edit,
    or a change of the chunker, re-embeds only the chunks it changed.

    Texts are encoded in windows sorted by length, so a batch holds texts of similar length
    (measured on law articles: 18.2 chunks/s against 12.6 with batches in document order)."""
    offsets, total_rows = {}, 0
    for doc in documents:
        offsets[doc.doc_id] = total_rows
        total_rows += len(chunks_by_doc[doc.doc_id])
    matrix = np.empty((total_rows, embedder.info.dimension), np.float32)  # filled in place: no copies

    def rows_of(doc: Document) -> np.ndarray:
        return matrix[offsets[doc.doc_id] : offsets[doc.doc_id] + len(chunks_by_doc[doc.doc_id])]

    done = embedded = 0
    new_rows: dict[str, list[int]] = {}
    for doc in documents:
        cached = cache.get(doc.content_hash, doc.title, len(chunks_by_doc[doc.doc_id]))
        if cached is not None:
            rows_of(doc)[:] = cached
            done += len(cached)
            continue
        own = rows_of(doc)
        missing = new_rows[doc.doc_id] = []
        for row, chunk in enumerate(chunks_by_doc[doc.doc_id]):
            reused = known.get(text_key(chunk, doc.title))
            if reused is None:
                missing.append(row)
            else:
                own[row] = reused
    total = done + sum(len(rows) for rows in new_rows.values())
    if progress and done:
        progress(done, total)
    window: list[tuple[Document, int, str]] = []  # (document, row in it, text to embed)
    remaining = {doc_id: len(rows) for doc_id, rows in new_rows.items()}

    def flush() -> None:
        nonlocal done, embedded
        order = sorted(range(len(window)), key=lambda i: len(window[i][2]))
        for first in range(0, len(order), BATCH):
            batch = order[first : first + BATCH]
            vectors = embedder.encode_passages([window[i][2] for i in batch])
            if len(vectors) != len(batch):
                raise RuntimeError(f"the embedder returned {len(vectors)} vectors for {len(batch)} texts")
            for i, vector in zip(batch, vectors):
                doc, row, _ = window[i]
                rows_of(doc)[row] = vector
                remaining[doc.doc_id] -= 1
                if remaining[doc.doc_id] == 0:  # document complete: save it for a resumed run
                    cache.put(doc.content_hash, doc.title, rows_of(doc))
            done += len(batch)
            embedded += len(batch)
            if progress:
                progress(done, total)
        window.clear()

    for doc in documents:
        for row in new_rows.get(doc.doc_id, ()):
            window.append((doc, row, embedding_text(chunks_by_doc[doc.doc_id][row], doc.title)))
            if len(window) >= WINDOW:
                flush()
    flush()
    return matrix, embedded
