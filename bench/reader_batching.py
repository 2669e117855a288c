"""Does batching the trained reader's windows pay? Forward time per window for batches of 1-32.

    python bench/reader_batching.py [--passages 60]

Windows of one question over CMRC dev passages (192 tokens each), the shipped reader in bfloat16 as
it answers; the median of several forward passes per batch size. Issue 33 asked whether reading the
windows of concurrent questions in one forward pass would bring 16 users under 1 s (docs/reader.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=60)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cmrc2018/cmrc2018_dev.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from rag.embedding.build import ensure_built
    from rag.paths import default_cache_dir
    from rag.read.model.loading import load_reader
    from rag.read.model.windows import Batch

    loaded = load_reader(ensure_built(default_cache_dir()))
    articles = json.loads(Path(args.data).read_text("utf-8"))["data"][: args.passages]
    question = loaded.maker.encode(["这个地方的人口是多少?"])[0]
    windows = []
    for article in articles:
        doc = loaded.maker.encode([article["paragraphs"][0]["context"]])[0]
        windows += list(loaded.maker.windows(question, doc, passage=0))
    print(f"{len(windows)} windows of {len(articles)} passages; torch threads {torch.get_num_threads()}")
    print("| windows a pass | median ms a pass | ms a window |")
    print("|---|---|---|")
    for size in (1, 4, 8, 16, 32):
        times = []
        for run in range(max(3, 64 // size)):
            start = (run * size) % max(1, len(windows) - size)
            ids, valid, _ = Batch(windows[start : start + size]).tensors
            began = time.perf_counter()
            with torch.inference_mode():
                loaded.network(ids, valid)
            times.append(time.perf_counter() - began)
        median = statistics.median(times) * 1000
        print(f"| {size} | {median:.1f} | {median / size:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
