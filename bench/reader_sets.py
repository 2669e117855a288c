"""Issue 33's report sets, one reader after another, side by side (docs/reader.md).

    python bench/reader_sets.py run --label new                      # the shipped reader
    python bench/reader_sets.py run --label old --weights DIR        # another trained reader (RAG_READER_WEIGHTS)
    python bench/reader_sets.py table old new                        # the figures, both readers and the rules

Every run asks the same questions through `rag eval` (the model and the rule reader read the same
retrieved passages); the JSON of each set goes to bench/out/reader_sets/<label>/. Report sets only:
CAIL 2019 test cases 0-149 (never trained or calibrated on), the news dev set's passages that its
train file does not hold (bench/news_unseen.py writes them), CMRC dev
and DRCD dev (first 300), the seed dev set and the provincial reports set (all).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench/out/reader_sets"
DATA = "../shared/data"
SETS = {
    "cail": [f"{DATA}/cail2019/cail2019_test.json", "--cases", "0:150"],
    "news": ["bench/out/news_dev_unseen.json"],  # python bench/news_unseen.py: dev passages train does not hold
    "cmrc": [f"{DATA}/cmrc2018/cmrc2018_dev.json", "--limit", "300"],
    "drcd": [f"{DATA}/drcd/DRCD_dev.json", "--limit", "300"],
    "seed": ["tests/data/seed_dev.jsonl", "--corpus", "seeds"],
    "provincial": ["bench/data/provincial_2026_questions.jsonl", "--corpus", "bench/out/provincial_2026"],
}


def run(label: str, weights: str | None, sets: list[str]) -> int:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if weights:
        env["RAG_READER_WEIGHTS"] = str(Path(weights).resolve())
    folder = OUT / label
    folder.mkdir(parents=True, exist_ok=True)
    if "news" in sets and not (ROOT / SETS["news"][0]).is_file():
        subprocess.run([sys.executable, "bench/news_unseen.py"], cwd=ROOT, check=True)
    for name in sets:
        target = folder / f"{name}.json"
        command = [sys.executable, "-m", "rag", "eval", *SETS[name], "--no-baselines", "--sweep", "--json", str(target)]
        print("$", " ".join(command[1:]), flush=True)
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        if done.returncode:
            print(f"{name}: rag eval failed ({done.returncode})", file=sys.stderr)
            return done.returncode
    return 0


def table(labels: list[str]) -> str:
    rows = [
        "| set | reader | hit | all strings | F1 | false refusals | unanswerable refused | reader's passage R@1 | retrieval R@1 | p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in SETS:
        for label in labels:
            path = OUT / label / f"{name}.json"
            if not path.is_file():
                continue
            result = json.loads(path.read_text("utf-8"))
            readers = [("model", label)] + ([("rules", "rules")] if label == labels[-1] else [])
            for reader, shown in readers:
                a = result["answers"][reader]
                recall = a.get("refusal_recall")
                refused = "—" if recall is None or recall != recall else f"{100 * recall:.1f} %"
                passage = result["retrieval"].get("product+reader", {}).get("R@1") if reader == "model" else None
                lat = result["latency_ms"].get(f"total:{reader}", {})
                rows.append(
                    f"| {name} | {shown} | {a['hit']:.3f} | {a['all_strings']:.3f} | {a['F1']:.1f} | {100 * a['false_refusal']:.1f} % | {refused} | "
                    f"{'—' if passage is None else f'{passage:.3f}'} | {result['retrieval']['product']['R@1']:.3f} | "
                    f"{lat.get('p50', float('nan')):.0f} / {lat.get('p95', float('nan')):.0f} |"
                )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--label", required=True)
    p.add_argument("--weights", help="a trained reader's folder (default: the shipped one)")
    p.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    p = sub.add_parser("table")
    p.add_argument("labels", nargs="+")
    args = parser.parse_args()
    if args.command == "run":
        return run(args.label, args.weights, args.sets)
    print(table(args.labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
