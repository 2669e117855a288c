"""The seed question in a mixed folder: the seed reply beside other reports that mention 免申即享.

    python bench/provincial_corpus.py && python bench/seed_in_reports.py          # + the 31 provincial 2026 reports
    python bench/seed_in_reports.py --others tests/data/report_excerpts           # + five short excerpts (the test's fixture)

Issue 33's report: over the seed reply plus provincial reports the trained reader answered
`免申即享包括哪些政策?` from the Shanghai report (`市、区两级709个政策项目实现免申即享`) while retrieval
ranked the seed's answer first. Prints, for each reader, whether the answer holds the four policies,
which documents it cites, and where retrieval and the reader put the seed reply.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag import Assistant, Settings, build_index  # noqa: E402
from rag.embedding import Embedder  # noqa: E402

QUESTION = "免申即享包括哪些政策?"
FOUR_POLICIES = ("水利建设基金", "文化事业建设费", "技改项目融资支持", "稳岗返还")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--others", default=str(ROOT / "bench" / "out" / "provincial_2026"), help="folder of the other documents")
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args()
    others = Path(args.others)
    if not others.is_dir():
        print(f"error: {others} is missing (python bench/provincial_corpus.py writes the provincial reports)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        shutil.copytree(ROOT / "seeds", docs)
        shutil.copytree(others, docs / "others")
        settings = replace(Settings.from_env(), index_dir=Path(tmp) / "index")
        embedder = Embedder.from_settings(settings, None)
        report = build_index([docs], settings, embedder)
        print(f"index: {report.summary()}")
        seed = next(p.name for p in (ROOT / "seeds").iterdir())
        for reader in ("model", "rules"):
            assistant = Assistant(replace(settings, reader=reader), embedder=embedder)
            answer = assistant.ask(args.question)
            cited = [c.doc_id for c in answer.citations]
            ranks = [n for n, p in enumerate(answer.passages, start=1) if p.chunk.doc_id == seed]
            right = not answer.refused and all(p in answer.text for p in FOUR_POLICIES) and bool(cited) and cited[0] == seed
            print(f"\n{reader}: {'RIGHT' if right else 'WRONG'} four policies cited from the seed; refused={answer.refused}")
            print(f"  cited: {cited}; the seed reply among the passages at rank {ranks[:3]}")
            print("  " + answer.text.replace("\n", "\n  ")[:400])
    return 0


if __name__ == "__main__":
    sys.exit(main())
