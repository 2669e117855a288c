"""Start-up time with an existing index: the CLI answering one question, and the web app until it
serves its page.

    python bench/startup.py [--index index] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default="index")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ, RAG_INDEX_DIR=args.index, HF_HUB_OFFLINE="1")
    cli, app = [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rag", "ask", "免申即享包括哪些政策?"], cwd=ROOT, env=env, check=True, capture_output=True)
        cli.append(time.perf_counter() - t)
        port = free_port()
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        app.append(time.perf_counter() - t)
        proc.terminate()
        proc.wait()
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rag", "--help"], cwd=ROOT, env=env, check=True, capture_output=True)
    help_s = time.perf_counter() - t
    print(f"`python -m rag --help`: {help_s:.2f} s")
    print(f"`python -m rag ask …` (load model + index, answer, exit): median {statistics.median(cli):.1f} s over {len(cli)} runs")
    print(f"`python app.py` until the page is served: median {statistics.median(app):.1f} s over {len(app)} runs")


if __name__ == "__main__":
    main()
