"""BM25 in Milvus sparse vectors: the formula of rag.store.bm25, laid out for an inner product.

A chunk row holds each term's weight tf·(k1+1)/(tf + k1·(1 − b + b·len/avgdl)); a query vector
holds IDF × the term's count, with IDF from the `terms` collection and the chunk count in `meta`.
Their inner product is the files store's BM25 score (the IDF folded in on the other side). Terms
are the same Chinese character terms as the files store's, hashed to 32-bit dimensions.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from rag.store.bm25 import inverse_document_frequency, length_norm, term_weight

PLACEHOLDER = 2**32 - 2  # milvus-lite refuses an empty sparse vector: a chunk without terms gets this dimension only


def term_id(term: str) -> int:
    """A term's sparse dimension: 32 bits of its blake2b hash (PLACEHOLDER and above are reserved)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little") % PLACEHOLDER


def idf_of(chunk_count: int, df: int) -> float:
    """A term's IDF over `chunk_count` chunks, `df` of which hold it."""
    return float(inverse_document_frequency(chunk_count, df))


def chunk_weights(tf: Counter[int], length: int, avgdl: float) -> dict[int, float]:
    """A chunk row's sparse vector: each term's BM25 weight without its IDF (the placeholder alone
    for a chunk without terms). avgdl is the one at the time the row is written."""
    norm = length_norm(length, avgdl)
    return {t: float(term_weight(c, norm)) for t, c in tf.items()} or {PLACEHOLDER: 1e-9}


def query_weights(counts: Counter[int], df: dict[int, int], chunk_count: int) -> dict[int, float]:
    """A query's sparse vector: IDF × count of each term some chunk holds (`df` > 0)."""
    return {t: idf_of(chunk_count, df[t]) * c for t, c in counts.items() if df[t] > 0}
