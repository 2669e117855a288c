"""Hybrid fusion: each side normalised over its own top n; a candidate only one side ranks gets its
real score from the other side, not 0."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from rag.config import RetrievalSettings
from rag.retrieve.fusion import minmax_fusion
from rag.retrieve.hybrid import HybridRetriever
from rag.store import FORMAT_VERSION, Manifest
from rag.store.bm25 import BM25
from rag.store.files import FilesSnapshot, IndexData
from rag.types import Chunk, Document


def test_minmax_fusion_scores_a_candidate_below_a_sides_top_n_by_how_far_below():
    ids = np.array([1, 2, 3])
    dense_of_ids = np.array([0.9, 0.8, 0.5])  # id 3 is not in the dense top n (0.8-0.9)
    bm25_of_ids = np.array([0.0, 4.0, 8.0])
    fused = minmax_fusion(ids, [(dense_of_ids, np.array([0.9, 0.8]), 0.5), (bm25_of_ids, np.array([8.0, 4.0]), 0.5)])
    assert fused[1] == 0.5 * 1.0 + 0.5 * -1.0  # BM25 0 lies one top-n range below its 4.0
    assert fused[2] == 0.5 * 0.0 + 0.5 * 0.0
    assert np.isclose(fused[3], 0.5 * -1.0 + 0.5 * 1.0)  # dense 0.5 lies three ranges below 0.8: floored at one


def test_minmax_fusion_floors_a_candidate_one_range_below_a_side():
    # BM25's two matches score alike: the dense side's best, which BM25 does not match, would
    # otherwise fall hundreds of ranges below them
    ids = np.array([1, 2, 3])
    fused = minmax_fusion(ids, [(np.array([0.9, 0.5, 0.4]), np.array([0.9, 0.5]), 0.5), (np.array([0.0, 5.0, 4.99]), np.array([5.0, 4.99]), 0.5)])
    assert fused[1] == 0.5 * 1.0 + 0.5 * -1.0
    assert max(fused, key=fused.get) == 2


def test_minmax_fusion_ignores_a_side_with_no_candidates():
    fused = minmax_fusion(np.array([7]), [(np.array([0.3]), np.array([0.3]), 0.5), (np.array([0.0]), np.zeros(0), 0.5)])
    assert fused == {7: 0.5}


def _retriever(texts: list[str], vectors: np.ndarray) -> HybridRetriever:
    source = "".join(texts)
    chunks, offset = [], 0
    for n, text in enumerate(texts):
        chunks.append(Chunk(chunk_id=f"d#{n}", doc_id="d", start=offset, end=offset + len(text), source=source))
        offset += len(text)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors.astype(np.float32))
    manifest = Manifest(FORMAT_VERSION, "fake", vectors.shape[1], 300, 60, "char_bigrams", {"d": {}}, len(chunks))
    document = Document("d", "", source, "")
    snapshot = FilesSnapshot(IndexData(manifest, {"d": document}, chunks, index, BM25.build(texts), Path("gen-1")))
    settings = RetrievalSettings(candidates=1, top_k=2)
    return HybridRetriever(snapshot, encode_query=lambda q: np.array([1.0, 0.0], np.float32), settings=settings)


def test_union_scores_give_lexical_only_candidates_their_stored_vectors_score():
    vectors = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [0.8, 0.6]])
    retriever = _retriever(["甲乙", "丙丁", "戊己", "庚辛"], vectors)
    query = np.array([0.6, 0.8], np.float32)
    # dense ids come in score order, not id order; the scores given for them are used as they are
    ids, dense = retriever.union_scores(query, np.array([1, 3]), np.array([1.0, 0.96]), np.array([2, 0]))
    assert ids.tolist() == [0, 1, 2, 3]
    assert np.allclose(dense, vectors @ query)


def test_search_fills_every_passages_dense_score():
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
    retriever = _retriever(["甲乙", "丙丁", "庚辛", "戊己"], vectors)
    # top 2 per side: dense finds chunks 0 and 1, BM25 only chunk 3, which lies far below the dense
    # top 2 (cosine 0 against 0.8-1.0) but leads BM25 alone
    passages = retriever.search("戊己", k=2, dense_weight=0.1)
    assert [p.chunk.chunk_id for p in passages] == ["d#3", "d#0"]
    assert [p.dense_score for p in passages] == [0.0, 1.0]
    assert np.isclose(passages[0].score, 0.1 * -1.0 + 0.9 * 1.0)  # four dense ranges below, floored at one
