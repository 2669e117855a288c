"""Okapi BM25: the formula both stores use, and the files store's sparse term matrix (scipy).

The formula lives here once (`inverse_document_frequency`, `length_norm`, `term_weight`): the files
store applies it to a whole matrix at build time (float32 arrays), the Milvus store to one chunk
row at a time as it writes (Python floats); tests/test_store_contract.py holds the two stores to
the same scores. Each document's per-term weight is computed once, so a query is the sum of a few
columns of a CSC matrix here, and one sparse inner product in Milvus.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
from scipy import sparse

from rag.text.segment import SEGMENTERS

K1, B = 1.2, 0.75  # term frequency saturation, length normalisation: Okapi's usual values

Number = TypeVar("Number", float, np.ndarray)


def inverse_document_frequency(n_docs: int, df: Number) -> Number:
    """log(1 + (N − df + 0.5)/(df + 0.5)): never negative, highest for a term found nowhere."""
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def length_norm(length: Number, avgdl: float, k1: float = K1, b: float = B) -> Number:
    """k1·(1 − b + b·len/avgdl), a document's share of the weight's denominator (computed per
    document, not per posting: a million chunks hold ~4e8 postings)."""
    return k1 * (1 - b + b * length / avgdl)


def term_weight(tf: Number, norm: Number, k1: float = K1, idf: Number | float = 1.0) -> Number:
    """idf·tf·(k1+1)/(tf + norm): a term's BM25 weight in one document. The files store folds the
    IDF in (idf given); the Milvus store leaves it to the query vector (idf 1: the same numbers as
    tf·(k1+1)/(tf + norm), a product by 1.0 being exact)."""
    return idf * tf * (k1 + 1) / (tf + norm)


class BM25:
    def __init__(self, matrix: sparse.csc_matrix, vocabulary: dict[str, int], segmenter: str, k1: float, b: float):
        self.matrix = matrix
        self.vocabulary = vocabulary
        self.segmenter = segmenter
        self.k1, self.b = k1, b
        self._segment = SEGMENTERS[segmenter]

    @classmethod
    def build(cls, texts: Iterable[str], segmenter: str = "char_bigrams", k1: float = K1, b: float = B) -> "BM25":
        """`texts` may be a generator: each text is segmented once and not kept."""
        segment = SEGMENTERS[segmenter]
        vocabulary: dict[str, int] = {}
        # typed arrays, not lists: 4 bytes a posting instead of ~36 (1 M chunks hold ~4e8 postings)
        rows, cols, counts, length_list = array("i"), array("i"), array("f"), array("i")
        for row, text in enumerate(texts):
            terms = segment(text)
            length_list.append(len(terms))
            tf: dict[int, int] = {}
            for term in terms:
                col = vocabulary.setdefault(term, len(vocabulary))
                tf[col] = tf.get(col, 0) + 1
            rows.extend([row] * len(tf))
            cols.extend(tf.keys())
            counts.extend(tf.values())
        lengths = np.frombuffer(length_list, dtype=np.int32).astype(np.float32)
        n_docs = len(lengths)
        shape = (n_docs, max(len(vocabulary), 1))
        col_ids = np.frombuffer(cols, dtype=np.int32)
        tf_matrix = sparse.csr_matrix((np.frombuffer(counts, dtype=np.float32), (np.frombuffer(rows, dtype=np.int32), col_ids)), shape=shape)
        del rows, counts
        df = np.bincount(col_ids, minlength=shape[1]).astype(np.float32)
        idf = inverse_document_frequency(n_docs, df)
        avg = float(lengths.mean()) if n_docs else 1.0
        norm = length_norm(lengths, max(avg, 1e-9), k1, b)
        row_of = np.repeat(np.arange(n_docs), np.diff(tf_matrix.indptr))
        tf_matrix.data = term_weight(tf_matrix.data, norm[row_of], k1, idf[tf_matrix.indices])
        return cls(tf_matrix.tocsc(), vocabulary, segmenter, k1, b)

    def scores(self, query: str, rows: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every document (or of the given rows) for the query (zeros where no term
        matches)."""
        cols = [self.vocabulary[t] for t in self.segment_query(query) if t in self.vocabulary]
        if not cols:
            return np.zeros(self.matrix.shape[0] if rows is None else len(rows), dtype=np.float32)
        uniq, weight = np.unique(np.asarray(cols), return_counts=True)
        columns = self.matrix[:, uniq]
        if rows is not None:
            columns = columns.tocsr()[rows]
        return np.asarray(columns @ weight.astype(np.float32)).ravel()

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term found nowhere gets the highest possible value."""
        n_docs = self.matrix.shape[0]
        col = self.vocabulary.get(term)
        df = 0 if col is None else int(self.matrix.indptr[col + 1] - self.matrix.indptr[col])
        return float(inverse_document_frequency(n_docs, df))

    def segment_query(self, query: str) -> list[str]:
        return self._segment(query)

    def save(self, folder: Path) -> None:
        sparse.save_npz(folder / "bm25.npz", self.matrix, compressed=False)
        meta = {"segmenter": self.segmenter, "k1": self.k1, "b": self.b, "vocabulary": list(self.vocabulary)}
        (folder / "bm25.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "BM25":
        meta = json.loads((folder / "bm25.json").read_text(encoding="utf-8"))
        matrix = sparse.load_npz(folder / "bm25.npz").tocsc()
        vocabulary = {term: i for i, term in enumerate(meta["vocabulary"])}
        return cls(matrix, vocabulary, meta["segmenter"], meta["k1"], meta["b"])
