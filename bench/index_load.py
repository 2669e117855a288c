"""Load-time cost of the per-file checksums (issue 16, defect 6), on an index the size of the laws.

    python bench/index_load.py [--laws ../shared/data/laws] [--runs 3]

Builds (once, under bench/out/index-load/) an index of the laws corpus with random unit vectors in
place of e5's: the files have the real sizes (92 k chunks × 384 floats, the laws' text, chunks and
BM25), which is all a checksum's cost depends on; no model is needed. Then times `read_index` with
and without verification, in alternation, and prints the median of each and the files' sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Info:
    model: str = "random-vectors-for-a-load-benchmark"
    dimension: int = 384
    device: str = "cpu"
    dtype: str = "float32"
    max_tokens: int = 512


class RandomVectors:
    info = Info()

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def encode_passages(self, texts, show_progress=False):
        v = self.rng.standard_normal((len(texts), self.info.dimension)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    encode_queries = encode_passages


def main() -> int:
    from rag import Settings, build_index
    from rag.store.files import live_generation, read_index

    parser = argparse.ArgumentParser()
    parser.add_argument("--laws", default=str(ROOT.parent / "shared" / "data" / "laws"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = replace(Settings.from_env(), index_dir=ROOT / "bench" / "out" / "index-load")
    started = time.perf_counter()
    report = build_index([Path(args.laws)], settings, RandomVectors())
    print(f"index: {report.documents:,} documents, {report.chunks:,} chunks (built or checked in {time.perf_counter() - started:.0f} s)")
    for path in sorted(live_generation(settings.index_dir).iterdir()):
        print(f"  {path.name:16s} {path.stat().st_size / 1e6:8.1f} MB")
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.runs):
        for verify in (False, True):
            t = time.perf_counter()
            read_index(settings.index_dir, verify=verify)
            times[verify].append(time.perf_counter() - t)
    plain, checked = statistics.median(times[False]), statistics.median(times[True])
    print(
        f"read_index without checksums: {plain:.2f} s; with: {checked:.2f} s "
        f"(+{checked - plain:.2f} s, +{100 * (checked - plain) / plain:.0f} %), median of {args.runs}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
