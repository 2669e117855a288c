"""How the chunker reads numbered lines: chunk counts, heading lines and numbered paragraphs per corpus.

    python bench/chunk_counts.py                       # seed, laws, provincial reports (../shared/data)
    python bench/chunk_counts.py --data DIR --show 5   # and five numbered paragraphs of each corpus

Run it before and after a change to the chunker (git stash) to see what moved. A numbered line is
counted as a heading when it opens a section's heading path, as a numbered paragraph otherwise.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.ingest.chunking import chunk_document  # noqa: E402
from rag.ingest.headings import numbering_rank  # noqa: E402
from rag.ingest.load import document_from_bytes, iter_source_files, load_document  # noqa: E402
from rag.types import Document  # noqa: E402


def _folder(folder: Path) -> Iterator[Document]:
    for path, doc_id in iter_source_files([folder]):
        try:
            yield load_document(path, doc_id)
        except Exception as exc:  # a benchmark: report and go on
            print(f"  skipped {doc_id}: {exc}", file=sys.stderr)


def _reports(folder: Path) -> Iterator[Document]:
    csv.field_size_limit(1 << 30)
    for path in sorted(folder.glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                if row.get("full_text"):
                    yield document_from_bytes(row["full_text"].encode("utf-8"), f"{path.stem}-{i}.txt")


def measure(docs: Iterator[Document], show: int) -> dict:
    out = {"documents": 0, "chunks": 0, "numbered lines": 0, "numbered headings": 0, "numbered paragraphs": 0}
    shown: list[str] = []
    for doc in docs:
        chunks = chunk_document(doc)
        out["documents"] += 1
        out["chunks"] += len(chunks)
        headings = {h for c in chunks for h in c.heading_path}
        for line in doc.text.splitlines():
            line = line.strip()
            if numbering_rank(line) is None:
                continue
            out["numbered lines"] += 1
            if any(line.startswith(h) for h in headings):
                out["numbered headings"] += 1
            else:
                out["numbered paragraphs"] += 1
                if len(shown) < show:
                    shown.append(line[:60])
    for line in shown:
        print(f"    paragraph: {line}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--show", type=int, default=0, help="print this many numbered paragraphs per corpus")
    args = parser.parse_args()
    data = Path(args.data)
    corpora = {
        "seed reply": _folder(ROOT / "seeds"),
        "laws": _folder(data / "laws"),
        "provincial reports 2026": _reports(data / "gov_reports" / "provincial_2026"),
    }
    print("| corpus | documents | chunks | numbered lines | as headings | as paragraphs |\n|---|---|---|---|---|---|")
    rows = []
    for name, docs in corpora.items():
        m = measure(docs, args.show)
        rows.append(f"| {name} | {m['documents']} | {m['chunks']} | {m['numbered lines']} | {m['numbered headings']} | {m['numbered paragraphs']} |")
        print(rows[-1], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
