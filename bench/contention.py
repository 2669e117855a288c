"""Question latency while passages are being embedded in the same process — the web app's situation
when one user uploads documents and others ask questions.

    python bench/contention.py [--index index] [--questions 40]

Prints p50/p95 of `Assistant.ask` idle and while a thread encodes batches of 64 passages (as the
indexer does for an upload) through the torch model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag import Assistant, Settings  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.store import index_backends  # noqa: E402

QUESTIONS = ("免申即享包括哪些政策?", "企业开办需要多长时间?", "下一步有什么打算?", "稳岗返还怎么办理?")
PASSAGE = "福建省工业和信息化厅关于优化提升政务服务、激发市场主体活力的提案答复。" * 8  # ~300 characters


def latencies(assistant: Assistant, n: int) -> tuple[float, float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        assistant.ask(QUESTIONS[i % len(QUESTIONS)])
        out.append(1000 * (time.perf_counter() - started))
    out.sort()
    return statistics.median(out), out[int(0.95 * (len(out) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default="index")
    parser.add_argument("--questions", type=int, default=40)
    args = parser.parse_args()
    settings = replace(Settings.from_env(), index_dir=Path(args.index))
    embedder = Embedder.from_settings(settings, index_backends(settings))
    assistant = Assistant(settings, embedder=embedder)
    embedder.encode_passages([PASSAGE])  # load the torch model before timing
    assistant.ask(QUESTIONS[0])
    print("idle: p50 %.1f ms, p95 %.1f ms" % latencies(assistant, args.questions))

    stop = threading.Event()

    def embed_upload() -> None:
        while not stop.is_set():
            embedder.encode_passages([PASSAGE] * 64)

    worker = threading.Thread(target=embed_upload, daemon=True)
    worker.start()
    time.sleep(2)
    print("while embedding passages: p50 %.1f ms, p95 %.1f ms" % latencies(assistant, args.questions))
    stop.set()
    worker.join()


if __name__ == "__main__":
    main()
