"""Memory of a process that embeds questions only, and after it embeds passages, per backend.

    python bench/query_memory.py onnx|torch [--passages]

Each run is a fresh process: it loads the embedder, encodes 9 questions (and with `--passages`,
20 passages of ~200 characters), and prints its load time and resident memory (anonymous: the
process's own; file: memory-mapped files, given back under pressure).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def memory() -> str:
    status = Path("/proc/self/status").read_text()

    def mb(key: str) -> int:
        found = re.search(rf"{key}:\s+(\d+)", status)
        return int(found.group(1)) // 1024 if found else 0

    return f"RSS {mb('VmRSS')} MB (anonymous {mb('RssAnon')}, file {mb('RssFile')}), peak {mb('VmHWM')} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=["onnx", "torch"])
    parser.add_argument("--passages", action="store_true")
    args = parser.parse_args()
    from rag.embedding import Embedder

    started = time.perf_counter()
    embedder = Embedder(backend=args.backend)
    embedder.encode_queries(["免申即享包括哪些政策?", "如何办理护照?", "失业保险稳岗返还怎么申请?"] * 3)
    if args.passages:
        embedder.encode_passages(["福建省工业和信息化厅关于省政协十三届二次会议第20241030号提案的答复。" * 5] * 20)
    what = "questions and passages" if args.passages else "questions only"
    print(f"{args.backend}, {what}: {time.perf_counter() - started:.1f} s, {memory()}")


if __name__ == "__main__":
    main()
