"""The collections of a Milvus knowledge base, and the rows that go into them.

Collections, named `<prefix>_<kind>` (`RAG_MILVUS_COLLECTION`, default `rag`):

    chunks    one row per chunk: its id, document, generation, offsets, heading path, text length
              in terms, checksum, the dense vector and a sparse vector of BM25 document weights
    docs      each document as JSON, in parts (a VARCHAR holds at most 64 KB), under its generation
    removals  which document versions were removed (replaced or dropped), at which generation
    terms     document frequency of each term (with the value it had before the last write)
    meta      one row per published generation: settings and BM25 statistics

Milvus wants a vector field in every collection: those without one of their own carry a 2-d
placeholder `v`, always [0, 0].
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rag.store.base import Manifest, document_json
from rag.types import Chunk, Document

KINDS = ("chunks", "docs", "removals", "terms", "meta")
PART_CHARS = 16_000  # a document's JSON per docs row: at most 4 bytes a character, under 64 KB


@dataclass(frozen=True)
class Meta:
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
    def from_json(cls, text: str) -> "Meta":
        fields = json.loads(text)
        total_terms = fields.pop("total_terms")
        return cls(Manifest(**fields, documents={}), total_terms)


def create_collections(client: Any, prefix: str, dimension: int) -> None:
    """Create whichever of the five collections does not exist yet (the caller holds the store's
    lock); `dimension` is the dense vectors'."""
    from pymilvus import DataType

    def collection(kind: str, fields: list[tuple], vector: tuple[str, Any, dict]) -> None:
        name = f"{prefix}_{kind}"
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


def document_rows(doc: Document, gen: int, chunk_count: int) -> list[dict]:
    """A document's `docs` rows under generation `gen`: its JSON in parts of PART_CHARS (one empty
    part for an empty JSON), each part keyed `<gen>:<doc_id>:<part>`."""
    payload = document_json(doc)
    pieces = [payload[i : i + PART_CHARS] for i in range(0, len(payload), PART_CHARS)] or [""]
    return [
        {
            "key": f"{gen}:{doc.doc_id}:{part}",
            "doc": doc.doc_id,
            "gen": gen,
            "part": part,
            "parts": len(pieces),
            "title": doc.title[:1000],
            "hash": doc.content_hash,
            "chunks": chunk_count,
            "payload": piece,
            "v": [0.0, 0.0],
        }
        for part, piece in enumerate(pieces)
    ]


def chunk_row(chunk: Chunk, gen: int, vector: np.ndarray, length: int, sparse: dict[int, float]) -> dict:
    """A chunk's `chunks` row under generation `gen`: offsets and a checksum instead of its text
    (the document holds it), its length in terms, both vectors."""
    return {
        "key": f"{gen}:{chunk.chunk_id}",
        "chunk": chunk.chunk_id,
        "doc": chunk.doc_id,
        "gen": gen,
        "start": chunk.start,
        "end": chunk.end,
        "length": length,
        "crc": zlib.crc32(chunk.text.encode("utf-8")),
        "path": json.dumps(list(chunk.heading_path), ensure_ascii=False),
        "dense": np.asarray(vector, dtype=np.float32).tolist(),
        "sparse": sparse,
    }
