"""The default store: FAISS vectors, chunk and document sidecars, BM25 and a manifest in files.

Layout of the index folder:

    CURRENT                  name of the live generation (replaced atomically)
    gen-<n>/manifest.json    format version, model and dimension, chunking, documents with hashes
    gen-<n>/vectors.faiss    L2-normalised vectors (inner product = cosine): exact IndexFlatIP, or
                             from APPROXIMATE_FROM chunks on an HNSW graph over the same flat
                             storage (`RAG_FAISS_INDEX=auto|flat|hnsw`; recall in docs/benchmarks.md)
    gen-<n>/chunks.jsonl     one chunk per line, in FAISS row order
    gen-<n>/documents.jsonl  one document per line (text, title, metadata)
    gen-<n>/bm25.npz, bm25.json
    sources.json             the paths the last full `rag index` read (for the rebuild hint)

The manifest holds a sha256 of every other file of its generation, checked on load: a flipped byte
anywhere is reported by the file's name instead of being used. A new generation is written
completely, fsynced, and only then named in CURRENT, so a crash at any moment leaves the previous
generation live; readers always see one whole generation. Every write rewrites the generation
whole (vectors, sidecars, BM25): its cost grows with the collection, not with the update.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorruptError, IndexNotFoundError
from rag.store.base import Hits, Manifest, Snapshot, Update, check_manifest, document_from_json, document_json, rebuild_hint, top_indices, write_text_durably
from rag.store.bm25 import BM25
from rag.types import Chunk, Document

CURRENT = "CURRENT"
_GENERATION = re.compile(r"gen-[0-9]+")


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass
class IndexData:
    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: Any  # faiss.IndexFlat
    bm25: BM25
    folder: Path


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, text: str) -> None:
    write_text_durably(path, [text])


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _chunk_json(chunk: Chunk) -> str:
    return json.dumps(
        {"id": chunk.chunk_id, "doc": chunk.doc_id, "start": chunk.start, "end": chunk.end, "crc": _crc(chunk.text), "path": list(chunk.heading_path)},
        ensure_ascii=False,
    )


def live_generation(index_dir: Path) -> Path | None:
    """The live generation's folder; None when there is no index yet. A CURRENT file that does not
    name a generation (damaged, truncated, a NUL byte) is IndexCorruptError, never a traceback."""
    pointer = index_dir / CURRENT
    try:
        raw = pointer.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {pointer} ({exc.strerror or exc}); {rebuild_hint(index_dir)}") from exc
    name = raw.decode("utf-8", "replace").strip()
    if not _GENERATION.fullmatch(name):
        raise IndexCorruptError(f"index file damaged: {pointer} does not name a generation; {rebuild_hint(index_dir)}")
    return index_dir / name


def _live_or_none(index_dir: Path) -> Path | None:
    try:
        return live_generation(index_dir)
    except IndexCorruptError:
        return None  # a rebuild replaces a damaged pointer


# From this many chunks `auto` builds an HNSW graph (bench/scale.py, docs/storage.md): the exact
# scan costs ~2.8 ms per 10 k vectors here (one thread), HNSW ~18 ms at any size, but this store
# rewrites its index at every write, and a graph costs ~1.4 s per 1 k vectors to build (an upload
# into 1 M chunks would take ~25 minutes). Below a million, exact search and cheap writes win.
APPROXIMATE_FROM = 1_000_000
HNSW_M = 32  # neighbours per node
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128  # candidates kept while searching: recall against exact in docs/benchmarks.md


def vector_index(vectors: np.ndarray, dimension: int, kind: str = "auto"):
    """The FAISS index for a generation's vectors: "flat" (exact), "hnsw" (approximate, the same
    vectors readable back), or "auto" (hnsw from APPROXIMATE_FROM vectors)."""
    import faiss

    if kind == "auto":
        kind = "hnsw" if len(vectors) >= APPROXIMATE_FROM else "flat"
    index: Any
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif kind == "flat":
        index = faiss.IndexFlatIP(dimension)
    else:
        raise ValueError(f"unknown FAISS index kind {kind!r}: auto, flat or hnsw")
    if len(vectors):
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # building a graph does use every core (queries set 1)
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def write_index(
    index_dir: Path,
    manifest: Manifest,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    bm25: BM25,
    kind: str = "auto",
) -> Path:
    import faiss

    if vectors.shape != (len(chunks), manifest.dimension):
        raise ValueError(f"vectors {vectors.shape} do not match {len(chunks)} chunks × {manifest.dimension}")
    index_dir.mkdir(parents=True, exist_ok=True)
    previous = _live_or_none(index_dir)
    number = 1 + max((int(p.name.split("-")[1]) for p in index_dir.glob("gen-*") if p.name.split("-")[1].isdigit()), default=0)
    staging = index_dir / f".tmp-gen-{number}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()

    faiss.write_index(vector_index(vectors, manifest.dimension, kind), str(staging / "vectors.faiss"))
    write_text_durably(staging / "chunks.jsonl", (_chunk_json(c) + "\n" for c in chunks))
    write_text_durably(staging / "documents.jsonl", (document_json(d) + "\n" for d in documents))
    bm25.save(staging)
    manifest = replace(manifest, files={p.name: file_sha256(p) for p in sorted(staging.iterdir())})
    _write(staging / "manifest.json", manifest.to_json())  # written last: its presence marks a whole generation
    for path in staging.iterdir():  # every file on disk before the generation is named live
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    _fsync_dir(staging)

    final = index_dir / f"gen-{number}"
    os.replace(staging, final)
    pointer_tmp = index_dir / f".{CURRENT}.{os.getpid()}"
    _write(pointer_tmp, final.name + "\n")
    os.replace(pointer_tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)
    _prune(index_dir, keep={final.name, previous.name if previous else ""})
    return final


def _prune(index_dir: Path, keep: set[str]) -> None:
    """Drop old generations (keeping the previous one for readers still using it) and debris."""
    for path in index_dir.iterdir():
        if path.name.startswith(("gen-", ".tmp-gen-")) and path.name not in keep:
            if path.name.startswith(".tmp-gen-") and path.name.endswith(f"-{os.getpid()}"):
                continue
            shutil.rmtree(path, ignore_errors=True)


def read_manifest(index_dir: Path, folder: Path | None = None) -> Manifest:
    folder = folder or live_generation(index_dir)
    if folder is None:
        raise IndexNotFoundError(f"no index in {index_dir}: build one with: python -m rag index [PATH ...] --index {index_dir}")
    path = folder / "manifest.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest(**raw)
        if not isinstance(manifest.files, dict) or not all(isinstance(v, str) for v in manifest.files.values()):
            raise TypeError("files is not a table of checksums")
        return manifest
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"index file missing: {path}; {rebuild_hint(index_dir)}") from exc
    except (OSError, ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise IndexCorruptError(f"index file damaged: {path}; {rebuild_hint(index_dir)}") from exc


def _lines(path: Path):
    """The lines of a sidecar, read one at a time (the file is never held whole next to its parse)."""
    with open(path, encoding="utf-8") as fh:
        yield from fh


def verify_files(index_dir: Path, folder: Path, manifest: Manifest) -> None:
    """Every file the manifest lists has the checksum it had when written."""
    for name, digest in manifest.files.items():
        path = folder / name
        if "/" in name or name.startswith("."):
            raise IndexCorruptError(f"index file damaged: {folder / 'manifest.json'} lists {name!r}; {rebuild_hint(index_dir)}")
        try:
            actual = file_sha256(path)
        except OSError as exc:
            raise IndexCorruptError(f"index file missing or unreadable: {path}; {rebuild_hint(index_dir)}") from exc
        if actual != digest:
            raise IndexCorruptError(f"index file damaged (checksum differs): {path}; {rebuild_hint(index_dir)}")


def read_index(index_dir: Path, model: str | None = None, dimension: int | None = None, check_format: bool = True, verify: bool = True) -> IndexData:
    import faiss

    folder = live_generation(index_dir)  # resolved once: every file below comes from this generation
    manifest = read_manifest(index_dir, folder)
    assert folder is not None  # read_manifest raised IndexNotFoundError otherwise
    check_manifest(manifest, str(index_dir), rebuild_hint(index_dir), model, dimension, check_format)
    if verify:
        verify_files(index_dir, folder, manifest)
    current = folder / "documents.jsonl"
    try:
        documents = {}
        for line in _lines(current):
            raw = json.loads(line)
            documents[raw["doc_id"]] = document_from_json(raw)
        current = folder / "chunks.jsonl"
        chunks, checksums = [], []
        for line in _lines(current):
            raw = json.loads(line)
            doc = documents.get(raw["doc"])
            chunks.append(Chunk(raw["id"], raw["doc"], raw["start"], raw["end"], doc.text if doc else "", tuple(raw["path"])))
            # format 3 and older stored the text itself: checked the same way, so an old index still
            # lends its vectors to the rebuild that upgrades it
            checksums.append(raw["crc"] if "crc" in raw else _crc(raw["text"]))
        current = folder / "vectors.faiss"
        vectors = faiss.read_index(str(current))
        current = folder / "bm25.npz and bm25.json"  # one of the two (a checksum names which)
        bm25 = BM25.load(folder)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        raise IndexCorruptError(f"index file missing or damaged: {current}; {rebuild_hint(index_dir)}") from exc
    if not isinstance(vectors, (faiss.IndexFlat, faiss.IndexHNSWFlat)):  # what this store writes: vectors readable back for fusion
        raise IndexCorruptError(f"{folder / 'vectors.faiss'} is not a flat or HNSW vector index; {rebuild_hint(index_dir)}")
    if isinstance(vectors, faiss.IndexHNSWFlat):
        vectors.hnsw.efSearch = HNSW_EF_SEARCH
    if vectors.ntotal != len(chunks) or bm25.matrix.shape[0] != len(chunks) or len(chunks) != manifest.chunk_count:
        raise IndexCorruptError(f"index files in {folder} disagree on the number of chunks; {rebuild_hint(index_dir)}")
    for chunk, checksum in zip(chunks, checksums):
        if chunk.doc_id not in documents or not 0 <= chunk.start < chunk.end <= len(chunk.source) or _crc(chunk.text) != checksum:
            raise IndexCorruptError(f"chunk {chunk.chunk_id} does not match its document in {folder}; {rebuild_hint(index_dir)}")
    return IndexData(manifest, documents, chunks, vectors, bm25, folder)


def stored_vectors(data: IndexData) -> np.ndarray:
    if data.vectors.ntotal == 0:
        return np.zeros((0, data.manifest.dimension), dtype=np.float32)
    return data.vectors.reconstruct_n(0, data.vectors.ntotal)


class FilesSnapshot:
    """One generation, held in memory: exact FAISS search and a BM25 matrix whose rows are the
    positions of `chunks`."""

    def __init__(self, data: IndexData) -> None:
        self.data = data
        self.version = str(data.folder)
        self.manifest = data.manifest
        self.documents = data.documents
        self.chunks = data.chunks
        self._rows = {c.chunk_id: row for row, c in enumerate(data.chunks)}
        self._bm25 = data.bm25

    def position(self, chunk_id: str) -> int:
        return self._rows[chunk_id]

    def _ids(self, rows) -> list[str]:
        return [self.chunks[int(r)].chunk_id for r in rows]

    def _rows_of(self, chunk_ids) -> np.ndarray:
        return np.fromiter((self._rows[c] for c in chunk_ids), dtype=np.int64, count=len(chunk_ids))

    def dense(self, vector: np.ndarray, n: int) -> Hits:
        import faiss

        index = self.data.vectors
        if index.ntotal == 0 or n <= 0:
            return Hits.empty()
        # one query on one thread: two OpenMP threads make FAISS's scan of one query 2.5x slower here
        # (100 k vectors: 28 ms on one thread, 71 ms on two; bench/scale.py)
        faiss.omp_set_num_threads(1)
        scores, rows = index.search(vector.reshape(1, -1).astype(np.float32), min(n, index.ntotal))
        keep = rows[0] >= 0
        return Hits(self._ids(rows[0][keep]), scores[0][keep])

    def lexical(self, query: str, n: int) -> Hits:
        scores = self._bm25.scores(query)
        rows = top_indices(scores, n)
        rows = rows[scores[rows] > 0]
        return Hits(self._ids(rows), scores[rows])

    def dense_scores(self, vector: np.ndarray, chunk_ids) -> np.ndarray:
        if not len(chunk_ids):
            return np.zeros(0, np.float32)
        return self.data.vectors.reconstruct_batch(self._rows_of(chunk_ids)) @ vector.reshape(-1).astype(np.float32)

    def lexical_scores(self, query: str, chunk_ids) -> np.ndarray:
        return self._bm25.scores(query, self._rows_of(chunk_ids))

    def vectors(self, chunk_ids) -> np.ndarray:
        if not len(chunk_ids):
            return np.zeros((0, self.manifest.dimension), np.float32)
        return self.data.vectors.reconstruct_batch(self._rows_of(chunk_ids))

    def idf(self, term: str) -> float:
        return self._bm25.idf(term)

    def knows(self, term: str) -> bool:
        return term in self._bm25.vocabulary


class FilesStore:
    """The index folder of generations (the module docstring)."""

    name = "files"

    def __init__(self, index_dir: Path, kind: str = "auto") -> None:
        self.index_dir = index_dir
        self.where = str(index_dir)
        self.kind = kind  # of the vector index written: auto, flat or hnsw

    def live_version(self) -> str | None:
        folder = live_generation(self.index_dir)
        return None if folder is None else str(folder)

    def manifest(self) -> Manifest:
        return read_manifest(self.index_dir)

    def open(self, model: str | None = None, dimension: int | None = None, check_format: bool = True, verify: bool = True) -> FilesSnapshot:
        return FilesSnapshot(read_index(self.index_dir, model, dimension, check_format, verify))

    def write(self, update: Update, previous: Snapshot | None) -> str:
        if previous is None and not update.replace_all:
            raise ValueError("a partial update needs the state it was computed from")
        parts: dict[str, tuple[Document, list[Chunk], np.ndarray]] = {}
        if previous is not None and not update.replace_all:
            dropped = set(update.remove) | {rows.document.doc_id for rows in update.put}
            kept: dict[str, list[Chunk]] = {}
            for chunk in previous.chunks:
                if chunk.doc_id not in dropped:
                    kept.setdefault(chunk.doc_id, []).append(chunk)
            for doc_id, chunks in kept.items():
                parts[doc_id] = (previous.documents[doc_id], chunks, previous.vectors([c.chunk_id for c in chunks]))
        for rows in update.put:
            if rows.vectors.shape != (len(rows.chunks), update.manifest.dimension):
                raise ValueError(f"{rows.document.doc_id}: vectors {rows.vectors.shape} do not match {len(rows.chunks)} chunks")
            parts[rows.document.doc_id] = (rows.document, rows.chunks, rows.vectors)
        ordered = [parts[d] for d in sorted(parts)]
        documents = [doc for doc, _, _ in ordered]
        chunks = [c for _, cs, _ in ordered for c in cs]
        dim = update.manifest.dimension
        vectors = np.concatenate([v for _, _, v in ordered]) if ordered else np.zeros((0, dim), np.float32)
        titles = {d.doc_id: d.title for d in documents}
        bm25 = BM25.build((update.text_of(c, titles[c.doc_id]) for c in chunks), segmenter=update.manifest.segmenter)
        return str(write_index(self.index_dir, update.manifest, documents, chunks, vectors, bm25, self.kind))

    def close(self) -> None:
        pass
