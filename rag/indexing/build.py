"""Build or update the index from files: load → chunk → embed → store, incrementally.

Documents whose bytes are unchanged (same sha256) keep their chunks, chunk ids and vectors; only new
or changed documents are embedded; documents no longer present are dropped. A file that cannot be
read is reported with its reason and skipped; the others are still indexed. Writers take a lock on
the index folder, so concurrent updates are serialised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Settings
from rag.errors import DocumentError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.indexing.embed import embed_chunks, known_vectors
from rag.indexing.embed_cache import EmbeddingCache
from rag.indexing.locks import UPLOAD_FOLDER, index_lock, uploads_lock
from rag.ingest.chunking import chunk_document, embedding_text
from rag.ingest.load import LoadProblem, content_hash, document_from_bytes, iter_source_files, read_source
from rag.store import FORMAT_VERSION, DocumentRows, Manifest, Snapshot, Store, Update, open_store, write_sources
from rag.types import Document

SEGMENTER = "char_bigrams"
UPLOAD_PREFIX = "uploads/"  # documents uploaded in the web chat; a folder sync keeps them


def has_index(settings: Settings) -> bool:
    """Whether an index was ever published in the configured store (a damaged pointer is
    IndexCorruptError)."""
    store = open_store(settings)
    try:
        return store.live_version() is not None
    finally:
        store.close()


SEEDS = Path(__file__).resolve().parents[2] / "seeds"  # the documents a fresh clone answers from


def index_seeds_if_missing(settings: Settings, embedder, say: Callable[[str], None] = print) -> None:
    """A first start with no index at all (not a damaged one: that stays an error) indexes seeds/,
    so `rag ask` and the web chat answer from a fresh clone."""
    if SEEDS.is_dir() and not has_index(settings):
        say(f"no index in {settings.index_dir}: building it from seeds/ …")
        say(build_index([SEEDS], settings, embedder).summary())


def stored_uploads(index_dir: Path) -> list[tuple[Path, str]]:
    """(file, doc id) of every stored upload copy (staging files and the lock are hidden)."""
    folder = index_dir / UPLOAD_FOLDER
    if not folder.is_dir():
        return []
    return [(p, UPLOAD_PREFIX + p.name) for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"{self.documents} documents, {self.chunks} chunks: {len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.removed)} removed, {len(self.unchanged)} unchanged, {len(self.problems)} failed; "
            f"embedded {self.embedded_chunks} chunks in {self.embed_seconds:.1f}s ({self.seconds:.1f}s in all)"
        )


def _same_build(settings: Settings, previous: Snapshot | None) -> bool:
    """True when the live index was built in this format with these chunk and segmenter settings."""
    if previous is None:
        return False
    m = previous.manifest
    return (m.format_version, m.chunk_size, m.chunk_overlap, m.segmenter) == (FORMAT_VERSION, settings.chunk.size, settings.chunk.overlap, SEGMENTER)


def _previous(store: Store, embedder, partial: bool) -> Snapshot | None:
    """The state the update starts from. No index yet: None. An index that cannot be read (damaged,
    or made by another model) stops a partial write (`partial`: add, upload, remove) with the
    message `ask` gives, before anything is touched: publishing over it would silently drop every
    document it holds. A full rebuild from the sources (what that message tells the user to run)
    replaces it. An index of an older format is read: its vectors are reused wherever a chunk's
    embedded text is unchanged."""
    try:
        return store.open(model=embedder.info.model, dimension=embedder.info.dimension, check_format=False)
    except IndexNotFoundError:
        return None
    except (IndexCorruptError, IndexMismatchError):
        if partial:
            raise
        return None  # any other error (a store that cannot be reached) stops every write


def build_index(
    sources: Iterable[Path],
    settings: Settings,
    embedder,
    progress: Callable[[int, int], None] | None = None,
    on_problem: Callable[[LoadProblem], None] | None = None,
    keep_missing: bool = False,
    remove: Iterable[str] = (),
    files: Iterable[tuple[Path, str]] = (),
) -> IndexReport:
    """Synchronise the index with the files under `sources`.

    keep_missing=True adds/updates the given files but keeps every other indexed document (used by
    `add` and uploads); `remove` drops the given doc ids; `files` adds (path, doc_id) pairs.
    """
    started = time.perf_counter()
    report = IndexReport()
    remove, files = tuple(remove), list(files)
    sources = list(sources)
    partial = keep_missing or bool(remove) or bool(files)
    with ExitStack() as locks:
        if not partial and (settings.index_dir / UPLOAD_FOLDER).is_dir():
            locks.enter_context(uploads_lock(settings.index_dir))  # the stored copies hold still while read
        locks.enter_context(index_lock(settings.index_dir))
        store = open_store(settings)
        try:
            previous = _previous(store, embedder, partial=partial)
            documents = _plan(sources, settings, previous, on_problem, keep_missing, remove, files, partial, report)
            _publish(store, previous, documents, settings, embedder, progress, report)
        finally:
            store.close()
    if sources and not remove and not files and (report.added or report.changed or report.removed):
        write_sources(settings.index_dir, sources, append=keep_missing)  # a full build, or `rag add`: the hint's sources
    report.seconds = time.perf_counter() - started
    return report


def _plan(sources, settings, previous: Snapshot | None, on_problem, keep_missing, remove, files, partial, report: IndexReport) -> dict[str, Document]:
    """Every document the index will hold, read from the sources where they changed; the report
    says which were added, changed, removed, unchanged or failed."""
    old_docs = previous.documents if previous is not None else {}
    documents: dict[str, Document] = {}
    listed = [*iter_source_files(sources), *files]
    if not partial:
        # a full build reads the stored copies of the uploads the index holds; when the index is
        # lost or damaged (nothing readable), every stored copy: they are the only source left
        given = {doc_id for _, doc_id in listed}
        listed += [(path, doc_id) for path, doc_id in stored_uploads(settings.index_dir) if doc_id not in given and (not old_docs or doc_id in old_docs)]
    for path, doc_id in listed:
        try:
            data = read_source(path, settings.max_file_bytes)
            old = old_docs.get(doc_id)
            if old is not None and old.content_hash == content_hash(data):
                documents[doc_id] = old
                report.unchanged.append(doc_id)
                continue
            doc = document_from_bytes(data, doc_id, suffix=path.suffix, limits=settings.limits)
        except Exception as exc:  # one bad file is reported and skipped; the others still index
            reason = str(exc) if isinstance(exc, DocumentError) else f"unreadable ({type(exc).__name__}: {exc})"
            problem = LoadProblem(str(path), reason)
            report.problems.append(problem)
            if on_problem:
                on_problem(problem)
            continue
        documents[doc_id] = doc
        (report.changed if doc_id in old_docs else report.added).append(doc_id)

    removed = set(remove)
    for doc_id, doc in old_docs.items():
        if doc_id in documents:
            continue
        if (keep_missing or doc_id.startswith(UPLOAD_PREFIX)) and doc_id not in removed:
            documents[doc_id] = doc
        else:
            report.removed.append(doc_id)
    return documents


def _backends(previous: Snapshot | None, embedder, embedded: int) -> list[str]:
    """The backends whose vectors the new state holds: the previous ones (their vectors are kept
    where the text is unchanged) and this embedder's, when it embedded anything."""
    held = set(previous.manifest.embed_backends) if previous is not None else set()
    if embedded or previous is None:
        held.add(embedder.info.backend)
    return sorted(held)


def _publish(store: Store, previous: Snapshot | None, documents: dict[str, Document], settings: Settings, embedder, progress, report: IndexReport) -> None:
    """Chunk and embed what changed and write it. When the previous state was built the same way
    (format, chunking), only new and changed documents are chunked, embedded and put; otherwise
    every document is, reusing the vectors of every chunk whose embedded text is unchanged."""
    ordered = [documents[d] for d in sorted(documents)]
    report.documents = len(ordered)
    same = _same_build(settings, previous)
    if same and not (report.added or report.changed or report.removed):
        assert previous is not None
        report.chunks = previous.manifest.chunk_count  # nothing to do (re-indexing an unchanged folder)
        return
    if same:
        assert previous is not None
        put = [documents[d] for d in sorted(report.added + report.changed)]
        known = known_vectors(previous, set(report.changed))
        counts = {d: info["chunks"] for d, info in previous.manifest.documents.items()}
    else:
        put = ordered
        known = known_vectors(previous, set(previous.documents)) if previous is not None else {}
        counts = {}
    chunks_by_doc = {d.doc_id: chunk_document(d, settings.chunk) for d in put}
    cache = EmbeddingCache(settings.index_dir, embedder.info.model, embedder.info.dimension, settings.chunk.size, settings.chunk.overlap, FORMAT_VERSION)
    embed_started = time.perf_counter()
    vectors, report.embedded_chunks = embed_chunks(embedder, put, chunks_by_doc, cache, progress, known)
    del known
    report.embed_seconds = time.perf_counter() - embed_started
    counts.update({d: len(cs) for d, cs in chunks_by_doc.items()})
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.info.model,
        dimension=embedder.info.dimension,
        chunk_size=settings.chunk.size,
        chunk_overlap=settings.chunk.overlap,
        segmenter=SEGMENTER,
        documents={d.doc_id: {"hash": d.content_hash, "title": d.title, "chunks": counts[d.doc_id]} for d in ordered},
        chunk_count=sum(counts[d.doc_id] for d in ordered),
        embed_backends=_backends(previous, embedder, report.embedded_chunks),
    )
    rows, offset = [], 0
    for doc in put:
        n = len(chunks_by_doc[doc.doc_id])
        rows.append(DocumentRows(doc, chunks_by_doc[doc.doc_id], vectors[offset : offset + n]))
        offset += n
    store.write(Update(manifest, rows, remove=list(report.removed), replace_all=not same, text_of=embedding_text), previous)
    cache.clear()
    report.chunks = manifest.chunk_count
