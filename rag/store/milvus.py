"""A knowledge base in Milvus: milvus-lite for a local file (`RAG_MILVUS_URI=path/kb.db`), or a Milvus
server or cluster (`RAG_MILVUS_URI=http://host:19530`), the same code.

Collections, named `<prefix>_<kind>` (`RAG_MILVUS_COLLECTION`, default `rag`):

    chunks    one row per chunk: its id, document, generation, offsets, heading path, text length
              in terms, checksum, the dense vector and a sparse vector of BM25 document weights
    docs      each document as JSON, in parts (a VARCHAR holds at most 64 KB), under its generation
    removals  which document versions were removed (replaced or dropped), at which generation
    terms     document frequency of each term (with the value it had before the last write)
    meta      one row per published generation: settings and BM25 statistics

Every write is a new generation G+1: its rows are added under G+1, the documents it replaces or
drops are recorded as removed at G+1, and only then is a `meta` row for G+1 inserted (one row: the
publication itself). Readers filter on `gen <= G` and skip removed versions, so a crash at any
moment leaves G answering, whole; the next write deletes what a crashed one left, and rows removed
one generation ago (readers of the previous generation are given the time to move on).

BM25 is computed on our side over the same Chinese character terms as the files store: chunk rows
hold tf·(k1+1)/(tf + k1·(1 − b + b·len/avgdl)) per term (terms hashed to 32 bits), the query vector
holds IDF × the term's count, with IDF from `terms` and the chunk count in `meta`; adding a
document never rewrites the others. avgdl is the one at the time a row was written: the same as
the files store after a full build, drifting a little with later updates (length normalisation only).
Both searches are ours to fuse (Milvus's hybrid search returns no per-side scores).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorruptError, IndexNotFoundError, RagError
from rag.store.base import Hits, Manifest, Snapshot, Update, check_manifest, chunk_number, document_from_json, document_json, rebuild_hint
from rag.text.segment import SEGMENTERS
from rag.types import Chunk, Document

K1, B = 1.2, 0.75  # as rag.bm25.BM25
PART_CHARS = 16_000  # a document's JSON per docs row: at most 4 bytes a character, under 64 KB
BATCH = 500  # rows per insert or per query by ids
PLACEHOLDER = 2**32 - 2  # milvus-lite refuses an empty sparse vector: a chunk without terms gets this dimension only
KINDS = ("chunks", "docs", "removals", "terms", "meta")
_clients: dict[str, Any] = {}
_loaded: set[tuple[str, str]] = set()  # (uri, prefix) whose collections this process has loaded
_clients_lock = threading.Lock()


def term_id(term: str) -> int:
    """A term's sparse dimension: 32 bits of its blake2b hash (PLACEHOLDER and above are reserved)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little") % PLACEHOLDER


class _QuietLite(logging.Filter):
    """milvus-lite has no MVCC timestamps to give query iterators (pymilvus warns at every scan),
    and a file another process holds is reported by our own message (its traceback says less)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "failed to get mvccTs" not in message and "Failed to start MilvusLite server" not in message


def _check_unlocked(path: Path) -> None:
    """A milvus-lite data folder another process has open: say so plainly (lite would fail with
    'Open local milvus failed')."""
    lock = path / "LOCK"
    if not lock.exists():
        return
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RagError(
                f"the milvus-lite data {path} is open in another process (a milvus-lite file serves one process at a time): "
                f"stop the other one (the web chat or the CLI), or serve it with `milvus-lite server --data-dir {path} --host 127.0.0.1` and set RAG_MILVUS_URI=http://127.0.0.1:19530"
            ) from None
        fcntl.flock(fh, fcntl.LOCK_UN)


def _client(uri: str):
    """One client per URI and process (milvus-lite serves one process per data file)."""
    with _clients_lock:
        if uri not in _clients:
            from pymilvus import MilvusClient

            logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_QuietLite())
            logging.getLogger("milvus_lite.server_manager").addFilter(_QuietLite())
            if "://" not in uri:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
                _check_unlocked(Path(uri))
            try:
                _clients[uri] = MilvusClient(uri)
            except Exception as exc:  # pymilvus raises its own MilvusException and connection errors
                raise RagError(f"cannot open Milvus at {uri} ({type(exc).__name__}: {exc})") from exc
        return _clients[uri]


def release_clients() -> None:
    """Close every client this process opened (a later call opens them again, as a new process would)."""
    with _clients_lock:
        for uri, client in _clients.items():
            client.close()
            if "://" not in uri:  # the embedded milvus-lite server outlives its clients: stop it, unlocking the file
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(uri)
        _clients.clear()
        _loaded.clear()


@dataclass(frozen=True)
class _Meta:
    """What a `meta` row holds: the manifest without its documents table (the docs rows hold it),
    and the sum of the chunks' lengths in terms (avgdl = total_terms / chunk_count)."""

    manifest: Manifest  # documents and files empty
    total_terms: int

    @property
    def chunk_count(self) -> int:
        return self.manifest.chunk_count

    def to_json(self) -> str:
        fields = asdict(self.manifest)
        del fields["documents"], fields["files"]
        return json.dumps({**fields, "total_terms": self.total_terms})

    @classmethod
    def from_json(cls, text: str) -> "_Meta":
        fields = json.loads(text)
        total_terms = fields.pop("total_terms")
        return cls(Manifest(**fields, documents={}), total_terms)


def _batches(items: Sequence, size: int = BATCH) -> Iterable[Sequence]:
    for first in range(0, len(items), size):
        yield items[first : first + size]


def _quoted(values: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


class MilvusSnapshot:
    """Generation `gen` of a Milvus knowledge base: documents and chunk offsets in memory, vectors
    and term weights in Milvus."""

    def __init__(
        self,
        store: "MilvusStore",
        gen: int,
        manifest: Manifest,
        meta: _Meta,
        documents: dict[str, Document],
        chunks: list[Chunk],
        keys: dict[str, str],
        dead: int,
    ) -> None:
        self.store = store
        self.gen = gen
        self.version = str(gen)
        self.manifest = manifest
        self.meta = meta
        self.documents = documents
        self.chunks = chunks
        self._positions = {c.chunk_id: i for i, c in enumerate(chunks)}
        self._keys = keys  # chunk id -> row key
        self._live_keys = set(keys.values())
        self._dead = dead  # rows at or below gen that belong to removed versions (searches ask for that many more)
        self._df: dict[int, int] = {}
        self._df_lock = threading.Lock()
        self._segment = SEGMENTERS[manifest.segmenter]

    def position(self, chunk_id: str) -> int:
        return self._positions[chunk_id]

    def _search(self, field: str, query, n: int) -> Hits:
        if n <= 0 or not self.chunks:
            return Hits.empty()
        limit = min(n + self._dead, 16_384)
        found = self.store.call(
            "search",
            "chunks",
            data=[query],
            anns_field=field,
            limit=limit,
            filter=f"gen <= {self.gen}",
            output_fields=["chunk"],
            search_params={"metric_type": "IP"},
        )
        ids, scores = [], []
        for hit in found[0]:
            if hit["key"] in self._live_keys:
                ids.append(hit["entity"]["chunk"])
                scores.append(hit["distance"])
        return Hits(ids[:n], np.asarray(scores[:n], dtype=np.float32))

    def dense(self, vector: np.ndarray, n: int) -> Hits:
        return self._search("dense", np.asarray(vector, dtype=np.float32).reshape(-1).tolist(), n)

    def query_terms(self, query: str) -> dict[int, float]:
        """The query's sparse vector: IDF × count of each term some chunk holds."""
        counts = Counter(term_id(t) for t in self._segment(query))
        df = self._frequencies(list(counts))
        n = self.meta.chunk_count
        return {t: float(np.log1p((n - df[t] + 0.5) / (df[t] + 0.5))) * c for t, c in counts.items() if df[t] > 0}

    def lexical(self, query: str, n: int) -> Hits:
        terms = self.query_terms(query)
        if not terms:
            return Hits.empty()
        hits = self._search("sparse", terms, n)
        keep = hits.scores > 0
        return Hits([c for c, k in zip(hits.ids, keep) if k], hits.scores[keep])

    def _rows(self, chunk_ids: Sequence[str], field: str) -> list[Any]:
        keys = [self._keys[c] for c in chunk_ids]
        got: dict[str, Any] = {}
        for batch in _batches(keys):
            for row in self.store.call("query", "chunks", ids=list(batch), output_fields=[field]):
                got[row["key"]] = row[field]
        return [got[k] for k in keys]

    def _scores_of(self, field: str, query, chunk_ids: Sequence[str]) -> np.ndarray:
        """The given chunks' scores for `query` on one side: a search restricted to them, so Milvus
        computes the products and no vectors cross the wire (decoding 100 sparse vectors in
        pymilvus costs more than the search). Chunks that match nothing score 0."""
        scores = dict.fromkeys(chunk_ids, 0.0)
        for batch in _batches(list(chunk_ids)):
            keys = [self._keys[c] for c in batch]
            found = self.store.call(
                "search",
                "chunks",
                data=[query],
                anns_field=field,
                limit=len(keys),
                filter=f"key in {_quoted(keys)}",
                output_fields=["chunk"],
                search_params={"metric_type": "IP"},
            )
            for hit in found[0]:
                scores[hit["entity"]["chunk"]] = hit["distance"]
        return np.asarray([scores[c] for c in chunk_ids], dtype=np.float32)

    def dense_scores(self, vector: np.ndarray, chunk_ids: Sequence[str]) -> np.ndarray:
        if not len(chunk_ids):
            return np.zeros(0, np.float32)
        return self._scores_of("dense", np.asarray(vector, dtype=np.float32).reshape(-1).tolist(), chunk_ids)

    def lexical_scores(self, query: str, chunk_ids: Sequence[str]) -> np.ndarray:
        terms = self.query_terms(query) if len(chunk_ids) else {}
        if not terms:
            return np.zeros(len(chunk_ids), np.float32)
        return self._scores_of("sparse", terms, chunk_ids)

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        if not len(chunk_ids):
            return np.zeros((0, self.manifest.dimension), np.float32)
        return np.asarray(self._rows(chunk_ids, "dense"), dtype=np.float32)

    def _frequencies(self, ids: list[int]) -> dict[int, int]:
        with self._df_lock:
            missing = [t for t in ids if t not in self._df]
        if missing:
            found = self.store.document_frequencies(missing, self.gen)
            with self._df_lock:
                self._df.update(found)
        with self._df_lock:
            return {t: self._df[t] for t in ids}

    def idf(self, term: str) -> float:
        df = self._frequencies([term_id(term)])[term_id(term)]
        n = self.meta.chunk_count
        return float(np.log1p((n - df + 0.5) / (df + 0.5)))

    def knows(self, term: str) -> bool:
        return self._frequencies([term_id(term)])[term_id(term)] > 0


class MilvusStore:
    name = "milvus"

    def __init__(self, uri: str, prefix: str, index_dir: Path) -> None:
        self.uri = uri
        self.prefix = prefix
        self.index_dir = index_dir  # uploads, sources and the writers' lock stay there
        self.where = f"{uri} (collections {prefix}_*)"
        self._lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------------

    def _loaded_client(self):
        """The client, with this knowledge base's collections loaded (a reopened collection is
        released: it must be loaded before any search or query)."""
        client = _client(self.uri)
        key = (self.uri, self.prefix)
        if key not in _loaded:
            with self._lock:
                if all(client.has_collection(f"{self.prefix}_{kind}") for kind in KINDS):
                    for kind in KINDS:
                        client.load_collection(f"{self.prefix}_{kind}")
                    _loaded.add(key)
        return client

    def call(self, method: str, kind: str, **kwargs):
        """One client call on collection `<prefix>_<kind>`, serialised (the client is shared)."""
        client = self._loaded_client()
        with self._lock:
            return getattr(client, method)(f"{self.prefix}_{kind}", **kwargs)

    def _exists(self) -> bool:
        client = self._loaded_client()
        with self._lock:
            return client.has_collection(f"{self.prefix}_meta")

    def _create(self, dimension: int) -> None:
        from pymilvus import DataType

        client = _client(self.uri)

        def collection(kind: str, fields: list[tuple], vector: tuple[str, Any, dict]) -> None:
            name = f"{self.prefix}_{kind}"
            if client.has_collection(name):
                return
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            for field_name, dtype, options in fields:
                schema.add_field(field_name, dtype, **options)
            index = client.prepare_index_params()
            for field_name, index_type in vector[2].items():
                index.add_index(field_name, index_type=index_type, metric_type="IP")
            client.create_collection(name, schema=schema, index_params=index)

        placeholder = ("v", DataType.FLOAT_VECTOR, {"dim": 2})
        with self._lock:
            collection(
                "chunks",
                [
                    ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 2100}),
                    ("chunk", DataType.VARCHAR, {"max_length": 2048}),
                    ("doc", DataType.VARCHAR, {"max_length": 2048}),
                    ("gen", DataType.INT64, {}),
                    ("start", DataType.INT64, {}),
                    ("end", DataType.INT64, {}),
                    ("length", DataType.INT64, {}),
                    ("crc", DataType.INT64, {}),
                    ("path", DataType.VARCHAR, {"max_length": 16384}),
                    ("dense", DataType.FLOAT_VECTOR, {"dim": dimension}),
                    ("sparse", DataType.SPARSE_FLOAT_VECTOR, {}),
                ],
                ("", None, {"dense": "FLAT", "sparse": "SPARSE_INVERTED_INDEX"}),
            )
            docs = [
                ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 2200}),
                ("doc", DataType.VARCHAR, {"max_length": 2048}),
                ("gen", DataType.INT64, {}),
            ]
            collection(
                "docs",
                docs
                + [
                    ("part", DataType.INT64, {}),
                    ("parts", DataType.INT64, {}),
                    ("title", DataType.VARCHAR, {"max_length": 4096}),
                    ("hash", DataType.VARCHAR, {"max_length": 64}),
                    ("chunks", DataType.INT64, {}),
                    ("payload", DataType.VARCHAR, {"max_length": 65535}),
                    placeholder,
                ],
                ("", None, {"v": "FLAT"}),
            )
            collection(
                "removals",
                [("key", DataType.VARCHAR, {"is_primary": True, "max_length": 2100}), ("gen", DataType.INT64, {}), placeholder],
                ("", None, {"v": "FLAT"}),
            )
            collection(
                "terms",
                [
                    ("term", DataType.INT64, {"is_primary": True}),
                    ("df", DataType.INT64, {}),
                    ("prev_df", DataType.INT64, {}),
                    ("gen", DataType.INT64, {}),
                    placeholder,
                ],
                ("", None, {"v": "FLAT"}),
            )
            collection(
                "meta",
                [("gen", DataType.INT64, {"is_primary": True}), ("payload", DataType.VARCHAR, {"max_length": 65535}), placeholder],
                ("", None, {"v": "FLAT"}),
            )

    def _scan(self, kind: str, filter: str, fields: list[str]) -> Iterable[dict]:
        client = self._loaded_client()
        with self._lock:
            iterator = client.query_iterator(f"{self.prefix}_{kind}", batch_size=1000, filter=filter, output_fields=fields)
        try:
            while True:
                with self._lock:
                    batch = iterator.next()
                if not batch:
                    return
                yield from batch
        finally:
            iterator.close()

    def _insert(self, kind: str, rows: list[dict]) -> None:
        for batch in _batches(rows):
            self.call("insert", kind, data=list(batch))

    def _delete(self, kind: str, filter: str) -> None:
        self.call("delete", kind, filter=filter)

    # -- reading ----------------------------------------------------------------------------------

    def live_version(self) -> str | None:
        gen = self._live_gen()
        return None if gen == 0 else str(gen)

    def _live_gen(self) -> int:
        if not self._exists():
            return 0
        return max((row["gen"] for row in self.call("query", "meta", filter="gen >= 0", output_fields=["gen"])), default=0)

    def _meta(self, gen: int) -> _Meta:
        rows = self.call("query", "meta", ids=[gen], output_fields=["payload"])
        try:
            return _Meta.from_json(rows[0]["payload"])
        except (IndexError, KeyError, ValueError, TypeError) as exc:
            raise IndexCorruptError(f"Milvus knowledge base {self.where}: generation {gen} has no readable settings; {rebuild_hint(self.index_dir)}") from exc

    def _removed(self, gen: int) -> set[str]:
        return {row["key"] for row in self._scan("removals", f"gen <= {gen}", ["key"])}

    def manifest(self) -> Manifest:
        gen = self._live_gen()
        if gen == 0:
            raise IndexNotFoundError(f"no index in {self.where}: build one with: python -m rag index [PATH ...] --index {self.index_dir}")
        return self._manifest(gen, self._meta(gen), self._removed(gen))

    def _manifest(self, gen: int, meta: _Meta, removed: set[str]) -> Manifest:
        documents = {}
        for row in self._scan("docs", f"gen <= {gen} and part == 0", ["key", "doc", "title", "hash", "chunks"]):
            if row["key"].rpartition(":")[0] not in removed:
                documents[row["doc"]] = {"hash": row["hash"], "title": row["title"], "chunks": row["chunks"]}
        return replace(meta.manifest, documents=dict(sorted(documents.items())))

    def open(self, model: str | None = None, dimension: int | None = None, check_format: bool = True, verify: bool = True) -> MilvusSnapshot:
        gen = self._live_gen()
        if gen == 0:
            raise IndexNotFoundError(f"no index in {self.where}: build one with: python -m rag index [PATH ...] --index {self.index_dir}")
        hint = rebuild_hint(self.index_dir)
        meta = self._meta(gen)
        removed = self._removed(gen)
        manifest = self._manifest(gen, meta, removed)
        check_manifest(manifest, self.where, hint, model, dimension, check_format)
        parts: dict[str, dict[int, str]] = {}
        for row in self._scan("docs", f"gen <= {gen}", ["key", "part", "parts", "payload"]):
            version = row["key"].rpartition(":")[0]
            if version not in removed:
                parts.setdefault(version, {})[row["part"]] = row["payload"]
                parts[version][-1] = str(row["parts"])
        documents, versions = {}, {}
        for version, pieces in parts.items():
            try:
                count = int(pieces.pop(-1))
                doc = document_from_json(json.loads("".join(pieces[i] for i in range(count))))
            except (KeyError, ValueError, TypeError) as exc:
                raise IndexCorruptError(f"document {version} in {self.where} is incomplete or damaged; {hint}") from exc
            documents[doc.doc_id] = doc
            versions[doc.doc_id] = version
        chunks, keys, dead = [], {}, 0
        for row in self._scan("chunks", f"gen <= {gen}", ["key", "chunk", "doc", "gen", "start", "end", "crc", "path"]):
            owner = documents.get(row["doc"])
            if owner is None or versions[row["doc"]] != f"{row['gen']}:{row['doc']}":
                dead += 1
                continue
            chunk = Chunk(row["chunk"], row["doc"], row["start"], row["end"], owner.text, tuple(json.loads(row["path"])))
            if not 0 <= chunk.start < chunk.end <= len(owner.text) or zlib.crc32(chunk.text.encode("utf-8")) != row["crc"]:
                raise IndexCorruptError(f"chunk {chunk.chunk_id} does not match its document in {self.where}; {hint}")
            chunks.append(chunk)
            keys[chunk.chunk_id] = row["key"]
        chunks.sort(key=lambda c: (c.doc_id, chunk_number(c.chunk_id)))
        if len(chunks) != manifest.chunk_count:
            raise IndexCorruptError(f"{self.where}: generation {gen} should hold {manifest.chunk_count} chunks, holds {len(chunks)}; {hint}")
        return MilvusSnapshot(self, gen, manifest, meta, documents, chunks, keys, dead)

    def document_frequencies(self, ids: list[int], gen: int) -> dict[int, int]:
        """Each term's document frequency as of generation `gen` (0 for terms no chunk holds)."""
        found = dict.fromkeys(ids, 0)
        for batch in _batches(ids):
            for row in self.call("query", "terms", ids=list(batch), output_fields=["df", "prev_df", "gen"]):
                found[row["term"]] = row["df"] if row["gen"] <= gen else row["prev_df"]
        return found

    # -- writing ----------------------------------------------------------------------------------

    def write(self, update: Update, previous: Snapshot | None) -> str:
        from rag.ingest.chunking import embedding_text

        if previous is None and not update.replace_all:
            raise ValueError("a partial update needs the state it was computed from")
        self._create(update.manifest.dimension)
        live = self._live_gen()
        self._recover(live)
        new = live + 1
        removed = self._removed(live)
        # the live version of every document, and which of them this update removes
        versions = {}
        for row in self._scan("docs", f"gen <= {live} and part == 0", ["key", "doc"]):
            version = row["key"].rpartition(":")[0]
            if version not in removed:
                versions[row["doc"]] = version
        put_ids = {rows.document.doc_id for rows in update.put}
        drop = [v for d, v in versions.items() if update.replace_all or d in put_ids or d in update.remove]

        old = self._meta(live) if live else None
        chunk_count = old.chunk_count if old else 0
        total_terms = old.total_terms if old else 0
        df_delta: Counter[int] = Counter()
        for version in drop:  # what the dropped versions counted for
            gen, _, doc = version.partition(":")
            for row in self._scan("chunks", f"gen == {int(gen)} and doc == {json.dumps(doc, ensure_ascii=False)}", ["length", "sparse"]):
                chunk_count -= 1
                total_terms -= row["length"]
                df_delta.update({t: -1 for t in row["sparse"] if t != PLACEHOLDER})
        segment = SEGMENTERS[update.manifest.segmenter]
        counted = []
        for rows in update.put:
            if rows.vectors.shape != (len(rows.chunks), update.manifest.dimension):
                raise ValueError(f"{rows.document.doc_id}: vectors {rows.vectors.shape} do not match {len(rows.chunks)} chunks")
            for chunk in rows.chunks:
                terms = segment(embedding_text(chunk, rows.document.title))
                tf = Counter(term_id(t) for t in terms)
                counted.append((tf, len(terms)))
                chunk_count += 1
                total_terms += len(terms)
                df_delta.update(dict.fromkeys(tf, 1))
        avgdl = max(total_terms / chunk_count, 1e-9) if chunk_count else 1.0

        weights = iter(counted)
        chunk_rows, doc_rows = [], []
        for rows in update.put:
            doc = rows.document
            payload = document_json(doc)
            pieces = [payload[i : i + PART_CHARS] for i in range(0, len(payload), PART_CHARS)] or [""]
            for part, piece in enumerate(pieces):
                doc_rows.append(
                    {
                        "key": f"{new}:{doc.doc_id}:{part}",
                        "doc": doc.doc_id,
                        "gen": new,
                        "part": part,
                        "parts": len(pieces),
                        "title": doc.title[:1000],
                        "hash": doc.content_hash,
                        "chunks": len(rows.chunks),
                        "payload": piece,
                        "v": [0.0, 0.0],
                    }
                )
            for chunk, vector in zip(rows.chunks, rows.vectors):
                tf, length = next(weights)
                norm = K1 * (1 - B + B * length / avgdl)
                sparse = {t: float(c * (K1 + 1) / (c + norm)) for t, c in tf.items()} or {PLACEHOLDER: 1e-9}
                chunk_rows.append(
                    {
                        "key": f"{new}:{chunk.chunk_id}",
                        "chunk": chunk.chunk_id,
                        "doc": chunk.doc_id,
                        "gen": new,
                        "start": chunk.start,
                        "end": chunk.end,
                        "length": length,
                        "crc": zlib.crc32(chunk.text.encode("utf-8")),
                        "path": json.dumps(list(chunk.heading_path), ensure_ascii=False),
                        "dense": np.asarray(vector, dtype=np.float32).tolist(),
                        "sparse": sparse,
                    }
                )
        self._insert("docs", doc_rows)
        self._insert("chunks", chunk_rows)
        touched = [t for t, d in df_delta.items() if d]
        current = self.document_frequencies(touched, live)
        self._upsert_terms([{"term": t, "df": current[t] + df_delta[t], "prev_df": current[t], "gen": new, "v": [0.0, 0.0]} for t in touched])
        self._insert("removals", [{"key": v, "gen": new, "v": [0.0, 0.0]} for v in drop])
        for kind in ("docs", "chunks", "terms", "removals"):
            self.call("flush", kind)
        meta = _Meta(replace(update.manifest, documents={}, files={}, chunk_count=chunk_count), total_terms)
        self.call("insert", "meta", data=[{"gen": new, "payload": meta.to_json(), "v": [0.0, 0.0]}])  # the publication
        self.call("flush", "meta")
        self._purge(live)
        return str(new)

    def _upsert_terms(self, rows: list[dict]) -> None:
        for batch in _batches(rows):
            self.call("upsert", "terms", data=list(batch))

    def _recover(self, live: int) -> None:
        """Undo what a crashed write above generation `live` left behind."""
        for kind in ("docs", "chunks", "removals"):
            self._delete(kind, f"gen > {live}")
        stale = list(self._scan("terms", f"gen > {live}", ["term", "prev_df"]))
        self._upsert_terms([{"term": r["term"], "df": r["prev_df"], "prev_df": r["prev_df"], "gen": live, "v": [0.0, 0.0]} for r in stale])
        self._delete("meta", f"gen > {live}")

    def _purge(self, before: int) -> None:
        """Delete the rows of versions removed at or before generation `before` (no reader of the
        generations since sees them), and older `meta` rows."""
        gone = [row["key"] for row in self._scan("removals", f"gen <= {before}", ["key"])]
        for batch in _batches(gone, 100):
            for version in batch:
                gen, _, doc = version.partition(":")
                condition = f"gen == {int(gen)} and doc == {json.dumps(doc, ensure_ascii=False)}"
                self._delete("chunks", condition)
                self._delete("docs", condition)
            self._delete("removals", f"key in {_quoted(batch)}")
        self._delete("meta", f"gen < {before}")

    def close(self) -> None:
        pass  # the client is shared by the process (see _client)


__all__ = ["MilvusSnapshot", "MilvusStore", "release_clients", "term_id"]
