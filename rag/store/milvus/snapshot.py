"""One published generation of a Milvus knowledge base, read: the Snapshot of rag.store.base.

Documents and chunk offsets are held in memory (read once when the generation is opened); vectors
and term weights stay in Milvus, which computes both sides' inner products. Rows of versions
removed at or below the generation are still in the collections until purged: searches filter
them out by row key, asking for as many more hits as there are such rows.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from rag.store.base import Hits, Manifest
from rag.store.milvus.client import batches, quoted
from rag.store.milvus.schema import Meta
from rag.store.milvus.terms import idf_of, query_weights, term_id
from rag.text.segment import SEGMENTERS
from rag.types import Chunk, Document


class Collections(Protocol):
    """What a snapshot asks of its store (rag.store.milvus.store.MilvusStore), named here so that
    the store may import the snapshot and not the other way round."""

    def call(self, method: str, kind: str, **kwargs: Any) -> Any:
        """One client call on the collection `<prefix>_<kind>`."""
        ...

    def document_frequencies(self, ids: list[int], gen: int) -> dict[int, int]:
        """Each term's document frequency as of generation `gen`."""
        ...


class MilvusSnapshot:
    """Generation `gen` of a Milvus knowledge base: documents and chunk offsets in memory, vectors
    and term weights in Milvus."""

    def __init__(
        self,
        store: Collections,
        gen: int,
        manifest: Manifest,
        meta: Meta,
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

    def _search(self, field: str, query: Any, n: int) -> Hits:
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
        return query_weights(counts, self._frequencies(list(counts)), self.meta.chunk_count)

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
        for batch in batches(keys):
            for row in self.store.call("query", "chunks", ids=list(batch), output_fields=[field]):
                got[row["key"]] = row[field]
        return [got[k] for k in keys]

    def _scores_of(self, field: str, query: Any, chunk_ids: Sequence[str]) -> np.ndarray:
        """The given chunks' scores for `query` on one side: a search restricted to them, so Milvus
        computes the products and no vectors cross the wire (decoding 100 sparse vectors in
        pymilvus costs more than the search). Chunks that match nothing score 0."""
        scores = dict.fromkeys(chunk_ids, 0.0)
        for batch in batches(list(chunk_ids)):
            keys = [self._keys[c] for c in batch]
            found = self.store.call(
                "search",
                "chunks",
                data=[query],
                anns_field=field,
                limit=len(keys),
                filter=f"key in {quoted(keys)}",
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
        """Each term's document frequency in this generation, asked of Milvus once per term."""
        with self._df_lock:
            missing = [t for t in ids if t not in self._df]
        if missing:
            found = self.store.document_frequencies(missing, self.gen)
            with self._df_lock:
                self._df.update(found)
        with self._df_lock:
            return {t: self._df[t] for t in ids}

    def idf(self, term: str) -> float:
        return idf_of(self.meta.chunk_count, self._frequencies([term_id(term)])[term_id(term)])

    def knows(self, term: str) -> bool:
        return self._frequencies([term_id(term)])[term_id(term)] > 0
