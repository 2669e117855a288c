"""Indexing throughput against the model's raw `encode` throughput on the same chunks, same run.

    python bench/indexing.py PATH [PATH ...] [--limit-files N]
    python bench/indexing.py ../shared/data/gov_reports/government_work_reports.jsonl   # JSONL: one file per record

Encodes the chunk texts of PATH with the bare embedder (one `encode` call, which sorts by length),
builds a fresh index of PATH in a temporary folder (load → chunk → embed → BM25 → write), encodes
the same texts again, and prints chunks/s of the index run and of the faster raw run, their ratio,
characters/s, and the peak RSS of the process. The model is loaded and warmed before any timing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def materialise(jsonl: Path) -> Path:
    """Write each JSONL record (`title`, `content`) as a .txt file under bench/out/corpora/."""
    import json

    folder = ROOT / "bench" / "out" / "corpora" / jsonl.stem
    folder.mkdir(parents=True, exist_ok=True)
    for i, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines()):
        record = json.loads(line)
        target = folder / f"{i:04d}.txt"
        if not target.exists():
            target.write_text(f"{record.get('title', '')}\n\n{record.get('content', '')}", encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--limit-files", type=int, help="index only the first N files (sorted)")
    args = parser.parse_args()

    from rag import Settings, build_index
    from rag.embedding import Embedder
    from rag.ingest.chunking import chunk_document, embedding_text
    from rag.ingest.load import document_from_bytes, iter_source_files, read_source
    from rag.store import index_backends

    settings = Settings.from_env()
    embedder = Embedder.from_settings(settings, index_backends(settings))
    embedder.encode_passages(["预热" * 150] * 64)  # load the model and size its buffers: both timings below are warm
    paths = [materialise(p) if p.suffix == ".jsonl" else p for p in args.paths]
    files = list(iter_source_files(paths))
    if args.limit_files:
        files = files[: args.limit_files]
    texts, chars = [], 0
    for path, doc_id in files:  # the chunks the index will hold, made by the same code
        try:
            doc = document_from_bytes(read_source(path, settings.max_file_bytes), doc_id, suffix=path.suffix)
        except Exception:  # the indexer reports and skips such files too
            continue
        for chunk in chunk_document(doc, settings.chunk):
            texts.append(embedding_text(chunk, doc.title))
            chars += len(chunk.text)

    def raw_encode() -> float:
        started = time.perf_counter()
        embedder.encode_passages(texts)  # one call: sentence-transformers sorts all texts by length itself
        return time.perf_counter() - started

    before = raw_encode()
    with tempfile.TemporaryDirectory() as tmp:
        settings = replace(settings, index_dir=Path(tmp) / "index")
        started = time.perf_counter()
        report = build_index([], settings, embedder, files=files)
        index_seconds = time.perf_counter() - started
    assert report.chunks == len(texts), "the index and the raw run must encode the same chunks"
    raw_seconds = min(before, raw_encode())  # raw encode runs before and after indexing; the faster counts
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index_rate, raw_rate = report.chunks / index_seconds, len(texts) / raw_seconds
    print(f"{report.documents} documents, {report.chunks} chunks, {chars:,} characters, {len(report.problems)} files skipped")
    print("| stage | seconds | chunks/s | characters/s |\n|---|---|---|---|")
    print(f"| index (load, chunk, embed, BM25, write) | {index_seconds:.1f} | {index_rate:.2f} | {chars / index_seconds:,.0f} |")
    print(f"| raw encode of the same chunks | {raw_seconds:.1f} | {raw_rate:.2f} | {chars / raw_seconds:,.0f} |")
    print(f"ratio index / raw encode: {index_rate / raw_rate:.3f}; peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
