"""Stores at scale: query latency, peak memory, build and one-document update time, and the recall of
the approximate ones against exact search.

    python bench/scale.py [--sizes 100000 1000000] [--configs files-flat files-hnsw milvus-lite]

Each configuration runs in a process of its own (peak RSS is that process's). The text side is the
national laws' real chunks (bench/index_load.py builds them once: 92 k chunks), cycled to the size
asked for, ten chunks a document, so BM25's postings grow as a real collection's would (repeated
text: document frequencies scale with the copies). The dense side is synthetic: random unit vectors
(seeded), and each query's vector is a stored chunk's vector plus noise (so a true neighbour exists;
random vectors are a hard case for HNSW, real e5 vectors cluster: `--real` measures recall@10
against exact search on the e5 vectors of the evaluation indexes). 50 queries: a 12-character slice
of a random chunk, with that chunk's noisy vector. The update puts one new 10-chunk document.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / "out" / "scale"
DIM = 384
QUERIES = 50


def corpus(size: int):
    """`size` chunks of the laws' text as (documents, chunks per document), ten chunks a document."""
    from rag.store.files import FilesStore
    from rag.types import Chunk, Document

    laws = FilesStore(ROOT / "bench" / "out" / "index-load").open(check_format=False, verify=False)
    texts = [c.text for c in laws.chunks]
    del laws
    documents, chunks = [], []
    for first in range(0, size, 10):
        pieces = [texts[(first + i) % len(texts)] for i in range(min(10, size - first))]
        doc_id = f"doc{first // 10:07d}.txt"
        text = "".join(pieces)
        doc = Document(doc_id, f"文件{first // 10}", text, f"{first:064d}")
        offset, own = 0, []
        for n, piece in enumerate(pieces):
            own.append(Chunk(f"{doc_id}#{n}", doc_id, offset, offset + len(piece), text))
            offset += len(piece)
        documents.append(doc)
        chunks.append(own)
    return documents, chunks


def unit(rng, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def open_config(config: str, folder: Path):
    from rag.store.files import FilesStore
    from rag.store.milvus import MilvusStore

    if config == "files-flat":
        return FilesStore(folder, "flat")
    if config == "files-hnsw":
        return FilesStore(folder, "hnsw")
    if config == "milvus-lite":
        return MilvusStore(str(folder / "milvus.db"), "scale", folder)
    raise SystemExit(f"unknown configuration {config}")


def run_one(config: str, size: int) -> dict:
    from rag.ingest.chunking import embedding_text
    from rag.retrieve.hybrid import HybridRetriever
    from rag.store import DocumentRows, Manifest, Update

    rng = np.random.default_rng(0)
    folder = WORK / f"{config}-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    documents, chunks = corpus(size)
    vectors = unit(rng, size)
    manifest = Manifest(
        6,
        "random",
        DIM,
        300,
        60,
        "char_bigrams",
        {d.doc_id: {"hash": d.content_hash, "title": d.title, "chunks": len(c)} for d, c in zip(documents, chunks)},
        size,
    )
    rows, row = [], 0
    for doc, own in zip(documents, chunks):
        rows.append(DocumentRows(doc, own, vectors[row : row + len(own)]))
        row += len(own)
    store = open_config(config, folder)
    started = time.perf_counter()
    store.write(Update(manifest, rows, replace_all=True, text_of=embedding_text), None)
    build = time.perf_counter() - started
    del rows
    started = time.perf_counter()
    snapshot = store.open(verify=False)
    load = time.perf_counter() - started

    picks = rng.choice(size, QUERIES, replace=False)
    flat_chunks = [c for own in chunks for c in own]
    queries = []
    for i in picks:
        text = flat_chunks[i].text
        start = int(rng.integers(0, max(1, len(text) - 12)))
        noisy = vectors[i] + 0.05 * rng.standard_normal(DIM).astype(np.float32)
        queries.append((text[start : start + 12], noisy / np.linalg.norm(noisy)))
    by_text = {q: v for q, v in queries}
    retriever = HybridRetriever(snapshot, lambda q: by_text[q])
    retriever.search(queries[0][0])  # warm
    times, source = [], []
    for (text, vector), i in zip(queries, picks):
        t = time.perf_counter()
        retriever.search(text)
        times.append(1000 * (time.perf_counter() - t))
        source.append(flat_chunks[i].chunk_id in snapshot.dense(vector, 10).ids)
    times.sort()

    from rag.types import Chunk, Document

    text = "补充规定。" + "本规定自发布之日起施行。" * 200
    new = Document("zz-update.txt", "补充规定", text, "f" * 64)
    own = [Chunk(f"zz-update.txt#{n}", new.doc_id, n * 240, (n + 1) * 240, text) for n in range(10)]
    table = {**manifest.documents, new.doc_id: {"hash": new.content_hash, "title": new.title, "chunks": 10}}
    updated = Manifest(**{**manifest.__dict__, "documents": table, "chunk_count": size + 10})
    started = time.perf_counter()
    store.write(Update(updated, [DocumentRows(new, own, unit(rng, 10))], text_of=embedding_text), snapshot)
    update = time.perf_counter() - started
    return {
        "config": config,
        "chunks": size,
        "build_s": round(build, 1),
        "load_s": round(load, 1),
        "query_p50_ms": round(statistics.median(times), 1),
        "query_p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "source_in_dense_top10": round(float(np.mean(source)), 3),
        "update_one_document_s": round(update, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2),
    }


def real_recall(folders: list[Path], queries: int = 500) -> dict:
    """HNSW (as the files store builds it) against exact search, on real e5 passage vectors: the
    evaluation indexes' vectors together, each query a stored vector (its own row left out)."""
    from rag.store.files import read_index, stored_vectors, vector_index

    vectors = np.concatenate([stored_vectors(read_index(f, check_format=False, verify=False)) for f in folders])
    rng = np.random.default_rng(0)
    picks = rng.choice(len(vectors), min(queries, len(vectors)), replace=False)
    hnsw = vector_index(vectors, DIM, "hnsw")
    hits = []
    for i in picks:
        exact = [int(j) for j in np.argsort(-(vectors @ vectors[i]))[:11] if j != i][:10]
        _, found = hnsw.search(vectors[i : i + 1], 11)
        hits.append(len(set(exact) & {int(j) for j in found[0] if j != i}) / 10)
    return {"vectors": len(vectors), "queries": len(picks), "hnsw_recall_at_10": round(float(np.mean(hits)), 3)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--configs", nargs="+", default=["files-flat", "files-hnsw", "milvus-lite"])
    parser.add_argument("--one", nargs=2, metavar=("CONFIG", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--real", nargs="+", metavar="INDEX", help="only: HNSW recall@10 against exact on these indexes' real e5 vectors")
    args = parser.parse_args()
    if args.real:
        print(json.dumps(real_recall([Path(f) for f in args.real])))
        return 0
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return 0
    print("| store | chunks | build s | load s | query p50 ms | p95 ms | source chunk in dense top 10 | one-document update s | peak RSS GB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for config in args.configs:
            out = subprocess.run([sys.executable, __file__, "--one", config, str(size)], capture_output=True, text=True)
            if out.returncode != 0:
                print(f"| {config} | {size:,} | failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode} |", flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"| {config} | {size:,} | {r['build_s']} | {r['load_s']} | {r['query_p50_ms']} | {r['query_p95_ms']} | "
                f"{r['source_in_dense_top10']} | {r['update_one_document_s']} | {r['peak_rss_gb']} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
