"""The storage interface: what the indexer, the retriever, the assistant and the evaluation may ask
of a knowledge base's store. Two implementations: `files.py` (FAISS and sidecar files in
generations, the default) and `milvus/` (Milvus or milvus-lite, `RAG_STORE=milvus`).

A `Store` is written by whole updates (documents put, documents removed) and read through a
`Snapshot`: one published state, which never changes under its reader; `Store.live_version()`
says when a newer one was published (the assistant then opens it). Chunks are addressed by their
stable chunk ids (`<doc_id>#<n>`); positions exist only inside one snapshot (`Snapshot.chunks`).

Both sides of the hybrid search are asked separately (top n with scores), and the fusion asks each
side's score of the other side's candidates (`dense_scores`, `lexical_scores`): fusion is ours, the
same on every store, so retrieval figures do not depend on the store.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.types import Chunk, Document, LineBox, LineBoxes

# 2: spaces inside CJK runs no longer break BM25 terms; 3: heading-only sections merged;
# 4: chunks.jsonl holds offsets and a checksum instead of a copy of the text; 5: a title line
# opening the body is not a chunk of its own; 6: BM25 terms fold traditional and simplified script,
# numbered sentences are body text, one sentence splitter
FORMAT_VERSION = 6
SOURCES = "sources.json"


@dataclass(frozen=True)
class Manifest:
    """What a published state holds and how it was built (checked against the settings on open)."""

    format_version: int
    model: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    segmenter: str
    documents: dict[str, dict]  # doc_id -> {"hash", "title", "chunks"}
    chunk_count: int
    # how the vectors were made (EmbedderInfo.backend), every backend whose vectors the index holds:
    # vectors of different backends mix (cosine >= 0.99 to float32, tests/test_onnx_encoder.py)
    embed_backends: list[str] = field(default_factory=list)  # empty: written before backends were recorded
    files: dict[str, str] = field(default_factory=dict)  # files store: file name -> sha256 (empty: written before checksums)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


@dataclass(frozen=True)
class Hits:
    """One side's best chunks for a query, best first."""

    ids: list[str]  # chunk ids
    scores: np.ndarray  # float, same order

    @classmethod
    def empty(cls) -> "Hits":
        return cls([], np.zeros(0, np.float32))


@dataclass(frozen=True)
class DocumentRows:
    """A document to put, with its chunks and one vector per chunk (rows in chunk order)."""

    document: Document
    chunks: list[Chunk]
    vectors: np.ndarray


@dataclass(frozen=True)
class Update:
    """One write. `put` replaces documents of the same id (or adds them), `remove` drops ids;
    `replace_all`: `put` is the whole new collection (a rebuild), whatever else is stored goes.
    `manifest` describes the state after the update (its documents table included); `text_of`
    (a keyword) says what the lexical side indexes of each chunk."""

    manifest: Manifest
    put: list[DocumentRows]
    remove: list[str] = field(default_factory=list)
    replace_all: bool = False
    # what BM25 reads of a chunk, given its document's title: the text its vector was made of
    # (rag.ingest.chunking.embedding_text). The indexer's rule, passed down: a store does not reach
    # into chunking, and the files store applies it to the chunks it keeps as well as to `put`.
    text_of: Callable[[Chunk, str], str] = field(kw_only=True)


class Snapshot(Protocol):
    """One published state of a knowledge base, read-only; safe to share between threads."""

    @property
    def version(self) -> str:
        """Names this state; a write publishes a different one."""
        ...

    @property
    def manifest(self) -> Manifest: ...

    @property
    def documents(self) -> dict[str, Document]: ...

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every chunk: documents in id order, each document's in text order."""
        ...

    def position(self, chunk_id: str) -> int:
        """Where a chunk stands in `chunks` (KeyError for an id not in this state)."""
        ...

    def dense(self, vector: np.ndarray, n: int) -> Hits:
        """The n chunks whose vectors have the highest inner product (cosine) with `vector`."""
        ...

    def lexical(self, query: str, n: int) -> Hits:
        """The n chunks of highest BM25 score for `query` (only those matching a term)."""
        ...

    def dense_scores(self, vector: np.ndarray, chunk_ids: Sequence[str]) -> np.ndarray:
        """The inner product of `vector` with each given chunk's stored vector."""
        ...

    def lexical_scores(self, query: str, chunk_ids: Sequence[str]) -> np.ndarray:
        """The BM25 score of each given chunk for `query` (0 where no term matches)."""
        ...

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of the given chunks (an update reuses those of unchanged text)."""
        ...

    def idf(self, term: str) -> float:
        """The term's inverse document frequency over chunks (a term found nowhere: the highest)."""
        ...

    def knows(self, term: str) -> bool:
        """Whether any chunk holds the term."""
        ...


class Store(Protocol):
    """Where one knowledge base is kept. Writers are serialised by the caller (indexer.index_lock)."""

    name: str  # "files" or "milvus"
    where: str  # for messages: the folder, or the Milvus URI and collection

    def live_version(self) -> str | None:
        """The published state's version; None when nothing was ever published (a damaged
        pointer: IndexCorruptError)."""
        ...

    def manifest(self) -> Manifest:
        """The published state's manifest, cheaply (IndexNotFoundError, IndexCorruptError)."""
        ...

    def open(self, model: str | None = None, dimension: int | None = None, check_format: bool = True, verify: bool = True) -> Snapshot:
        """The published state, checked against the model and dimension given (IndexMismatchError),
        and (`verify`) against its own checksums where the store keeps them (IndexCorruptError)."""
        ...

    def write(self, update: Update, previous: Snapshot | None) -> str:
        """Publish the state after `update`, atomically: a crash at any moment leaves the previous
        state live and whole. `previous` is the state the update was computed from (None: nothing
        readable; then `update.replace_all` must be set). Returns the new version."""
        ...

    def close(self) -> None: ...


def rebuild_hint(index_dir: Path) -> str:
    """How to rebuild this index: the sources of its last full build when recorded; uploads are
    read again from their stored copies either way."""
    try:
        paths = json.loads((index_dir / SOURCES).read_text(encoding="utf-8"))["paths"]
        given = " ".join(shlex.quote(str(p)) for p in paths) if paths and all(isinstance(p, str) for p in paths) else ""
    except (OSError, ValueError, KeyError, TypeError):
        given = ""
    uploads = index_dir / "uploads"
    kept = f" (files uploaded in the web chat are read again from {uploads})" if uploads.is_dir() else ""
    return f"rebuild it with: python -m rag index {given or '[PATH ...]'} --index {shlex.quote(str(index_dir))}{kept}"


def write_text_durably(path: Path, lines) -> None:
    """Write an iterable of strings, streamed (a large corpus is never joined into one string), and
    fsync it."""
    with open(path, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def write_sources(index_dir: Path, sources: list[Path], append: bool = False) -> None:
    """Record the paths a full build read, or (`append`) the files `rag add` added, atomically; a
    failure only loses the hint's detail."""
    tmp = index_dir / f".{SOURCES}.{os.getpid()}"
    paths = [str(p.resolve()) for p in sources]
    if append:
        try:
            known = json.loads((index_dir / SOURCES).read_text(encoding="utf-8"))["paths"]
            paths = list(dict.fromkeys([*known, *paths]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    try:
        write_text_durably(tmp, [json.dumps({"paths": paths}, ensure_ascii=False)])
        os.replace(tmp, index_dir / SOURCES)
    except OSError:
        tmp.unlink(missing_ok=True)


def check_manifest(manifest: Manifest, where: str, hint: str, model: str | None, dimension: int | None, check_format: bool = True) -> None:
    """The published state was built the way this process reads it (IndexMismatchError)."""
    from rag.errors import IndexMismatchError

    if check_format and manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(f"index in {where} has format {manifest.format_version}, this version reads {FORMAT_VERSION}; {hint}")
    if model is not None and manifest.model != model:
        raise IndexMismatchError(
            f"index in {where} was built with model '{manifest.model}', but '{model}' is configured; {hint} (or set RAG_EMBED_MODEL={manifest.model})"
        )
    if dimension is not None and manifest.dimension != dimension:
        raise IndexMismatchError(f"index in {where} has dimension {manifest.dimension}, the model gives {dimension}; {hint}")


def document_json(doc: Document) -> str:
    return json.dumps(
        {
            "doc_id": doc.doc_id,
            "title": doc.title,
            "hash": doc.content_hash,
            "metadata": [list(kv) for kv in doc.metadata],
            "body_spans": [list(s) for s in doc.body_spans],
            "page_starts": list(doc.page_starts),
            **({"line_boxes": line_boxes_json(doc.line_boxes)} if doc.line_boxes else {}),
            "text": doc.text,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def document_from_json(raw: dict) -> Document:
    return Document(
        doc_id=raw["doc_id"],
        title=raw["title"],
        text=raw["text"],
        content_hash=raw["hash"],
        metadata=tuple(tuple(kv) for kv in raw["metadata"]),
        body_spans=tuple(tuple(s) for s in raw["body_spans"]),
        page_starts=tuple(raw.get("page_starts", ())),
        line_boxes=line_boxes_from_json(raw.get("line_boxes", [])),  # absent: indexed before boxes were kept, or no OCR
    )


def line_boxes_json(boxes: LineBoxes) -> list[int]:
    """OCR line boxes as the documents' JSON holds them: seven integers a line, each the change
    from the line before where that is small — page − previous page, start − previous end,
    end − start, x0, y0, x1 − x0, y1 − y0 (coordinates in tenths of the page's unit) — some 27
    characters a line, so a 300-page scan's 10,000 lines add under 300 KB beside its text
    (tests/test_scan_source_view.py checks it)."""
    out: list[int] = []
    page = end = 0
    for b in boxes:
        x0, y0, x1, y1 = (round(v * 10) for v in (b.x0, b.y0, b.x1, b.y1))
        out += [b.page - page, b.start - end, b.end - b.start, x0, y0, x1 - x0, y1 - y0]
        page, end = b.page, b.end
    return out


def line_boxes_from_json(raw: list) -> LineBoxes:
    """The inverse of `line_boxes_json` (ValueError for a list that is not seven integers a line)."""
    if not isinstance(raw, list) or len(raw) % 7 or not all(isinstance(v, int) for v in raw):
        raise ValueError("line_boxes: not seven integers a line")
    boxes: list[LineBox] = []
    page = end = 0
    for i in range(0, len(raw), 7):
        dpage, gap, length, x0, y0, width, height = raw[i : i + 7]
        page, start = page + dpage, end + gap
        end = start + length
        boxes.append(LineBox(page, x0 / 10, y0 / 10, (x0 + width) / 10, (y0 + height) / 10, start, end))
    return LineBoxes.of(boxes)


def chunk_number(chunk_id: str) -> int:
    """`doc#12` → 12 (the order of a document's chunks)."""
    return int(chunk_id.rpartition("#")[2] or 0)


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first. Its one home, under the stores: the files
    store's lexical top n and the evaluation's rankings both take it from here."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
