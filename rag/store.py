"""The on-disk index: FAISS vectors, chunk and document sidecars, BM25, and a manifest.

Layout of the index folder:

    CURRENT                  name of the live generation (replaced atomically)
    gen-<n>/manifest.json    format version, model and dimension, chunking, documents with hashes
    gen-<n>/vectors.faiss    IndexFlatIP over L2-normalised vectors (inner product = cosine)
    gen-<n>/chunks.jsonl     one chunk per line, in FAISS row order
    gen-<n>/documents.jsonl  one document per line (text, title, metadata)
    gen-<n>/bm25.npz, bm25.json
    sources.json             the paths the last full `rag index` read (for the rebuild hint)

The manifest holds a sha256 of every other file of its generation, checked on load: a flipped byte
anywhere is reported by the file's name instead of being used. A new generation is written
completely, fsynced, and only then named in CURRENT, so a crash at any moment leaves the previous generation live; readers always see one whole generation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import zipfile
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .bm25 import BM25
from .errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from .types import Chunk, Document

# 2: spaces inside CJK runs no longer break BM25 terms; 3: heading-only sections merged;
# 4: chunks.jsonl holds offsets and a checksum instead of a copy of the text; 5: a title line
# opening the body is not a chunk of its own; 6: BM25 terms fold traditional and simplified script,
# numbered sentences are body text, one sentence splitter
FORMAT_VERSION = 6
CURRENT = "CURRENT"
SOURCES = "sources.json"
_GENERATION = re.compile(r"gen-[0-9]+")


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
        _write(tmp, json.dumps({"paths": paths}, ensure_ascii=False))
        os.replace(tmp, index_dir / SOURCES)
    except OSError:
        tmp.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    segmenter: str
    documents: dict[str, dict]  # doc_id -> {"hash", "title", "chunks", "source"}
    chunk_count: int
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256 (empty: written before checksums)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


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
    _write_lines(path, [text])


def _write_lines(path: Path, lines) -> None:
    """Write an iterable of strings, streamed (a large corpus is never joined into one string)."""
    with open(path, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _doc_json(doc: Document) -> str:
    return json.dumps(
        {
            "doc_id": doc.doc_id,
            "title": doc.title,
            "hash": doc.content_hash,
            "metadata": [list(kv) for kv in doc.metadata],
            "body_spans": [list(s) for s in doc.body_spans],
            "page_starts": list(doc.page_starts),
            "text": doc.text,
        },
        ensure_ascii=False,
    )


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


def write_index(
    index_dir: Path,
    manifest: Manifest,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    bm25: BM25,
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

    flat = faiss.IndexFlatIP(manifest.dimension)
    if len(vectors):
        flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(flat, str(staging / "vectors.faiss"))
    _write_lines(staging / "chunks.jsonl", (_chunk_json(c) + "\n" for c in chunks))
    _write_lines(staging / "documents.jsonl", (_doc_json(d) + "\n" for d in documents))
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


def check_manifest(manifest: Manifest, index_dir: Path, model: str | None, dimension: int | None, check_format: bool = True) -> None:
    hint = rebuild_hint(index_dir)
    if check_format and manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(f"index in {index_dir} has format {manifest.format_version}, this version reads {FORMAT_VERSION}; {hint}")
    if model is not None and manifest.model != model:
        raise IndexMismatchError(
            f"index in {index_dir} was built with model '{manifest.model}', but '{model}' is configured; {hint} (or set RAG_EMBED_MODEL={manifest.model})"
        )
    if dimension is not None and manifest.dimension != dimension:
        raise IndexMismatchError(f"index in {index_dir} has dimension {manifest.dimension}, the model gives {dimension}; {hint}")


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
    check_manifest(manifest, index_dir, model, dimension, check_format)
    if verify:
        verify_files(index_dir, folder, manifest)
    current = folder / "documents.jsonl"
    try:
        documents = {}
        for line in _lines(current):
            raw = json.loads(line)
            documents[raw["doc_id"]] = Document(
                doc_id=raw["doc_id"],
                title=raw["title"],
                text=raw["text"],
                content_hash=raw["hash"],
                metadata=tuple(tuple(kv) for kv in raw["metadata"]),
                body_spans=tuple(tuple(s) for s in raw["body_spans"]),
                page_starts=tuple(raw.get("page_starts", ())),
            )
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
    if not isinstance(vectors, faiss.IndexFlat):  # what this store writes: exact search, vectors readable back for fusion
        raise IndexCorruptError(f"{folder / 'vectors.faiss'} is not a flat vector index; {rebuild_hint(index_dir)}")
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
