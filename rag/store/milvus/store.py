"""The Milvus store: reading a published generation, and writing the next one.

Every write is a new generation G+1: its rows are added under G+1, the documents it replaces or
drops are recorded as removed at G+1, and only then is a `meta` row for G+1 inserted (one row: the
publication itself). Readers filter on `gen <= G` and skip removed versions, so a crash at any
moment leaves G answering, whole; the next write deletes what a crashed one left, and rows removed
one generation ago (readers of the previous generation are given the time to move on).

Each write updates the BM25 statistics (chunk count, total length, document frequencies) by what
it adds and removes: adding a document never rewrites the others (rag.store.milvus.terms).
"""

from __future__ import annotations

import json
import threading
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rag.errors import IndexCorruptError, IndexNotFoundError
from rag.store.base import Manifest, Snapshot, Update, check_manifest, chunk_number, document_from_json, rebuild_hint
from rag.store.milvus.client import batches, loaded_client, open_client, quoted
from rag.store.milvus.schema import Meta, chunk_row, create_collections, document_rows
from rag.store.milvus.snapshot import MilvusSnapshot
from rag.store.milvus.terms import PLACEHOLDER, chunk_weights, term_id
from rag.text.segment import SEGMENTERS
from rag.types import Chunk


class MilvusStore:
    name = "milvus"

    def __init__(self, uri: str, prefix: str, index_dir: Path) -> None:
        self.uri = uri
        self.prefix = prefix
        self.index_dir = index_dir  # uploads, sources and the writers' lock stay there
        self.where = f"{uri} (collections {prefix}_*)"
        self._lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------------

    def _loaded_client(self) -> Any:
        return loaded_client(self.uri, self.prefix, self._lock)

    def call(self, method: str, kind: str, **kwargs: Any) -> Any:
        """One client call on collection `<prefix>_<kind>`, serialised (the client is shared)."""
        client = self._loaded_client()
        with self._lock:
            return getattr(client, method)(f"{self.prefix}_{kind}", **kwargs)

    def _exists(self) -> bool:
        client = self._loaded_client()
        with self._lock:
            return client.has_collection(f"{self.prefix}_meta")

    def _create(self, dimension: int) -> None:
        client = open_client(self.uri)
        with self._lock:
            create_collections(client, self.prefix, dimension)

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
        for batch in batches(rows):
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

    def _meta(self, gen: int) -> Meta:
        rows = self.call("query", "meta", ids=[gen], output_fields=["payload"])
        try:
            return Meta.from_json(rows[0]["payload"])
        except (IndexError, KeyError, ValueError, TypeError) as exc:
            raise IndexCorruptError(f"Milvus knowledge base {self.where}: generation {gen} has no readable settings; {rebuild_hint(self.index_dir)}") from exc

    def _removed(self, gen: int) -> set[str]:
        return {row["key"] for row in self._scan("removals", f"gen <= {gen}", ["key"])}

    def manifest(self) -> Manifest:
        gen = self._live_gen()
        if gen == 0:
            raise IndexNotFoundError(f"no index in {self.where}: build one with: python -m rag index [PATH ...] --index {self.index_dir}")
        return self._manifest(gen, self._meta(gen), self._removed(gen))

    def _manifest(self, gen: int, meta: Meta, removed: set[str]) -> Manifest:
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
        for batch in batches(ids):
            for row in self.call("query", "terms", ids=list(batch), output_fields=["df", "prev_df", "gen"]):
                found[row["term"]] = row["df"] if row["gen"] <= gen else row["prev_df"]
        return found

    # -- writing ----------------------------------------------------------------------------------

    def write(self, update: Update, previous: Snapshot | None) -> str:
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
                terms = segment(update.text_of(chunk, rows.document.title))
                tf = Counter(term_id(t) for t in terms)
                counted.append((tf, len(terms)))
                chunk_count += 1
                total_terms += len(terms)
                df_delta.update(dict.fromkeys(tf, 1))
        avgdl = max(total_terms / chunk_count, 1e-9) if chunk_count else 1.0

        weights = iter(counted)
        chunk_rows, doc_rows = [], []
        for rows in update.put:
            doc_rows.extend(document_rows(rows.document, new, len(rows.chunks)))
            for chunk, vector in zip(rows.chunks, rows.vectors):
                tf, length = next(weights)
                chunk_rows.append(chunk_row(chunk, new, vector, length, chunk_weights(tf, length, avgdl)))
        self._insert("docs", doc_rows)
        self._insert("chunks", chunk_rows)
        touched = [t for t, d in df_delta.items() if d]
        current = self.document_frequencies(touched, live)
        self._upsert_terms([{"term": t, "df": current[t] + df_delta[t], "prev_df": current[t], "gen": new, "v": [0.0, 0.0]} for t in touched])
        self._insert("removals", [{"key": v, "gen": new, "v": [0.0, 0.0]} for v in drop])
        for kind in ("docs", "chunks", "terms", "removals"):
            self.call("flush", kind)
        meta = Meta(replace(update.manifest, documents={}, files={}, chunk_count=chunk_count), total_terms)
        self.call("insert", "meta", data=[{"gen": new, "payload": meta.to_json(), "v": [0.0, 0.0]}])  # the publication
        self.call("flush", "meta")
        self._purge(live)
        return str(new)

    def _upsert_terms(self, rows: list[dict]) -> None:
        for batch in batches(rows):
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
        for batch in batches(gone, 100):
            for version in batch:
                gen, _, doc = version.partition(":")
                condition = f"gen == {int(gen)} and doc == {json.dumps(doc, ensure_ascii=False)}"
                self._delete("chunks", condition)
                self._delete("docs", condition)
            self._delete("removals", f"key in {quoted(batch)}")
        self._delete("meta", f"gen < {before}")

    def close(self) -> None:
        pass  # the client is shared by the process (see rag.store.milvus.client)
