"""Load test: N concurrent gradio_client users, each asking M questions, against the web app.

    python bench/load.py [--clients 16] [--questions 25] [--url http://127.0.0.1:7860/]

Without --url it starts `app.py` on a free loopback port with a temporary copy of the index. Every
answer to the seed question must name the four policies; prints errors, wrong answers, and latency
p50/p95 per request, and exits non-zero if anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_QUESTION = "免申即享包括哪些政策?"
POLICIES = ("水利建设基金", "文化事业建设费", "技改项目融资支持", "稳岗返还")


def start_app() -> tuple[subprocess.Popen, str, Path]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    index = Path(tempfile.mkdtemp(prefix="rag-load-"))
    env = dict(os.environ, RAG_INDEX_DIR=str(index), RAG_PORT=str(port), HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url, index
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("app did not start")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--questions", type=int, default=25)
    parser.add_argument("--url")
    args = parser.parse_args()
    from gradio_client import Client

    proc = index = None
    url = args.url
    if not url:
        proc, url, index = start_app()
    dev = [json.loads(line)["question"] for line in (ROOT / "tests/data/seed_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    latencies: list[float] = []
    errors: list[str] = []
    wrong: list[str] = []
    seed_asked = 0
    lock = threading.Lock()

    def user(n: int) -> None:
        nonlocal seed_asked
        try:
            client = Client(url, verbose=False)
        except Exception as exc:  # report, do not crash the run
            with lock:
                errors.append(f"client {n}: {exc!r}")
            return
        for i in range(args.questions):
            question = SEED_QUESTION if i % 5 == 0 else dev[(n * args.questions + i) % len(dev)]
            started = time.perf_counter()
            try:
                result = client.predict(question, [], api_name="/ask")
            except Exception as exc:
                with lock:
                    errors.append(f"client {n} q{i}: {exc!r}")
                continue
            elapsed = 1000 * (time.perf_counter() - started)
            with lock:
                latencies.append(elapsed)
                if question == SEED_QUESTION:
                    seed_asked += 1
                    if result.get("refused") or not all(p in result.get("answer", "") for p in POLICIES):
                        wrong.append(f"client {n} q{i}: {result.get('answer', '')[:80]}")

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(n,)) for n in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if proc:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(index, ignore_errors=True)
    ordered = sorted(latencies)
    print(
        f"{args.clients} clients × {args.questions} questions: {len(latencies)} answered in {wall:.1f}s "
        f"({len(latencies) / wall:.1f} req/s), {len(errors)} errors, seed question asked {seed_asked}× with {len(wrong)} wrong answers"
    )
    if ordered:
        print(f"latency per request: p50 {statistics.median(ordered):.0f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms, max {ordered[-1]:.0f} ms")
    for line in (errors + wrong)[:10]:
        print("  " + line)
    return 1 if errors or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
