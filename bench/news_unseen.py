"""The news set's dev questions whose passage its train file does not hold.

The source split the news reading-comprehension set by question, not by passage: 34 of the dev
file's 289 passages are also in the train file, with other questions. A reader trained on news
train (train-reader --shared-norm) has read them, so its report uses the other passages only:

    python bench/news_unseen.py      # writes bench/out/news_dev_unseen.json (SQuAD form)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared/data/news_mrc"
OUT = ROOT / "bench/out/news_dev_unseen.json"


def unseen(train: dict, dev: dict) -> dict:
    seen = {p["context"] for a in train["data"] for p in a["paragraphs"]}
    data = []
    for article in dev["data"]:
        kept = [p for p in article["paragraphs"] if p["context"] not in seen]
        if kept:
            data.append(dict(article, paragraphs=kept))
    return dict(dev, data=data)


def main() -> int:
    train = json.loads((DATA / "news_mrc_train.json").read_text("utf-8"))
    dev = json.loads((DATA / "news_mrc_dev.json").read_text("utf-8"))
    out = unseen(train, dev)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, ensure_ascii=False), "utf-8")
    passages = sum(len(a["paragraphs"]) for a in out["data"])
    questions = sum(len(p["qas"]) for a in out["data"] for p in a["paragraphs"])
    total = sum(len(a["paragraphs"]) for a in dev["data"])
    print(f"{OUT}: {passages} of {total} dev passages, {questions} questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
