"""The trained reader's cost: load time, extra memory, whole-question latency beside the rules,
and bfloat16 against float32 (speed, agreement of the chosen spans).

    python bench/reader.py [--dataset ../shared/data/cmrc2018/cmrc2018_dev.json] [--questions 300]

Uses the evaluation's cached index of the dataset (built by `rag eval` if missing). Run it on an
idle machine: figures are wall-clock milliseconds on this CPU.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_parts() -> str:
    """Resident memory, and how much of it is anonymous (the process's own) or file pages
    (the memory-mapped word embeddings: clean, shared, given back under pressure)."""
    return f"RSS {rss_mb():.0f} MB (anonymous {rss_mb('RssAnon'):.0f}, file {rss_mb('RssFile'):.0f})"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float]) -> str:
    ordered = sorted(values)
    return f"p50 {statistics.median(ordered):.0f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="../shared/data/cmrc2018/cmrc2018_dev.json")
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()

    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.embedding import Embedder
    from rag.evaluation.cli import WORKDIR
    from rag.evaluation.datasets import load_dataset
    from rag.indexing.build import build_index
    from rag.store import index_backends

    evalset = load_dataset(Path(args.dataset), None, WORKDIR)
    settings = Settings.from_env(reader="rules")
    settings = replace(settings, index_dir=WORKDIR / f"index-{evalset.corpus.name}-c{settings.chunk.size}o{settings.chunk.overlap}")
    embedder = Embedder.from_settings(settings, index_backends(settings))
    build_index([evalset.corpus], settings, embedder)
    rules = Assistant(settings, embedder=embedder)
    questions = random.Random(0).sample([q.question for q in evalset.questions], min(args.questions, len(evalset.questions)))
    rules.ask(questions[0])
    before, peak_before = rss_parts(), peak_mb()
    t = time.perf_counter()
    model = Assistant(replace(settings, reader="model"), embedder=embedder)
    load_s = time.perf_counter() - t
    assert model.reader.name == "model", model.reader_status
    model.ask(questions[0])
    print(f"reader load {load_s:.1f} s; before: {before}; after load and one question: {rss_parts()} (peak {peak_before:.0f} → {peak_mb():.0f} MB)")

    timings: dict[str, list[float]] = {"rules": [], "model": []}
    for q in questions:
        for name, assistant in (("rules", rules), ("model", model)):
            t = time.perf_counter()
            assistant.ask(q)
            timings[name].append(1000 * (time.perf_counter() - t))
    for name, values in timings.items():
        print(f"whole question, {name} reader: {pct(values)} ({len(values)} questions)")
    print(f"after {len(questions)} questions: {rss_parts()} (peak {peak_mb():.0f} MB)")

    # bfloat16 against float32: the same windows, the spans they choose, and their speed
    from rag.embedding.build import ensure_built
    from rag.read.model.loading import load_reader
    from rag.read.model.reader import ModelReader, ReaderSettings

    folder = ensure_built(settings.cache_dir)
    readers = {kind: ModelReader(rules.documents, load_reader(folder, dtype=kind), ReaderSettings(dtype=kind)) for kind in ("float32", "bfloat16")}
    spans: dict[str, list] = {k: [] for k in readers}
    reading: dict[str, list[float]] = {k: [] for k in readers}
    for q in questions[:150]:
        passages = rules.retriever.search(q, k=3)
        for kind, reader in readers.items():
            t = time.perf_counter()
            guesses = reader.read(q, passages)
            reading[kind].append(1000 * (time.perf_counter() - t))
            spans[kind].append((guesses[0].passage, guesses[0].start, guesses[0].end) if guesses else None)
    same = sum(a == b for a, b in zip(spans["float32"], spans["bfloat16"])) / len(spans["bfloat16"])
    for kind, values in reading.items():
        print(f"reading 3 passages, {kind}: {pct(values)}")
    print(f"bfloat16 picks the same span as float32 for {100 * same:.1f} % of {len(spans['bfloat16'])} questions")


if __name__ == "__main__":
    main()
