"""How far the best dense score stands out (the z-score the rule reader adds to its confidence),
with the torch and the onnx backend, on the same questions: each backend against an index its
own vectors built.

    python bench/dense_z.py --questions tests/data/seed_dev.jsonl ../shared/data/cmrc2018/cmrc2018_trial.json:300 \\
        --torch-index /tmp/idx-seeds-torch --onnx-index /tmp/idx-seeds-onnx --corpus seeds

Each index is built (or updated) from `--corpus` by its own backend first. A questions argument is
a JSONL set (`question` per line) or a SQuAD/CMRC JSON file, optionally `:N` for its first N.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def questions_of(spec: str) -> list[str]:
    path, _, limit = spec.partition(":")
    if path.endswith(".jsonl"):
        found = [json.loads(line)["question"] for line in Path(path).read_text("utf-8").splitlines() if line.strip()]
    else:
        data = json.loads(Path(path).read_text("utf-8"))["data"]
        found = [qa["question"] for a in data for p in a["paragraphs"] for qa in p["qas"]]
    return found[: int(limit)] if limit else found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", nargs="+", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--torch-index", required=True)
    parser.add_argument("--onnx-index", required=True)
    args = parser.parse_args()

    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.embedding import Embedder
    from rag.indexing.build import build_index
    from rag.store import index_backends

    questions = [q for spec in args.questions for q in questions_of(spec)]
    z = {}
    for backend, index in (("torch", args.torch_index), ("onnx", args.onnx_index)):
        os.environ["RAG_EMBED_BACKEND"] = backend
        settings = replace(Settings.from_env(), index_dir=Path(index))
        embedder = Embedder.from_settings(settings, index_backends(settings))
        build_index([Path(args.corpus)], settings, embedder)
        assistant = Assistant(settings, embedder=embedder)
        z[backend] = np.array([assistant.retriever.search_with_stats(q)[1] for q in questions])
    d = z["onnx"] - z["torch"]
    print(
        f"{len(questions)} questions over {args.corpus}: dense z mean torch {z['torch'].mean():.3f}, onnx {z['onnx'].mean():.3f}; "
        f"onnx - torch mean {d.mean():+.3f} (median {np.median(d):+.3f}, sd {d.std():.3f}, standard error {d.std() / len(d) ** 0.5:.3f})"
    )


if __name__ == "__main__":
    main()
