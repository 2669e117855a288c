"""Turn the 2026 provincial government work reports (one CSV per province) into a folder of text files.

    python bench/provincial_corpus.py                      # ../shared/data/gov_reports/provincial_2026 -> bench/out/provincial_2026
    python bench/provincial_corpus.py SRC --out DIR

Each `2026_<province>_政府工作报告.csv` holds one row (`province, year, title, source_url, publish_date,
full_text`). The file written is `<province>.txt` = `# <title>`, a blank line, then the full text with the
web page's leading furniture (下载/打印/【字号：…】, breadcrumbs) cut: the lines before the line that equals
the title, when that line is among the first 40. Running it again rewrites the same files.
This folder is the corpus of `bench/data/provincial_2026_questions.jsonl` (see bench/data/README.md).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "gov_reports" / "provincial_2026"
DEFAULT_OUT = ROOT / "bench" / "out" / "provincial_2026"
TITLE_WITHIN = 40  # lines: a title line further down is not the page's heading


def strip_furniture(full_text: str, title: str) -> str:
    """The text from the line that equals the title on, when it is among the first lines; else all of it."""
    lines = full_text.splitlines()
    for i, line in enumerate(lines[:TITLE_WITHIN]):
        if line.strip() == title.strip():
            return "\n".join(lines[i:])
    return full_text


def read_reports(source: Path) -> Iterator[dict[str, str]]:
    """Rows of every report CSV in `source` (the manifest and failure lists there are skipped)."""
    csv.field_size_limit(1 << 30)
    for path in sorted(source.glob("*_政府工作报告.csv")):
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("province") and row.get("full_text"):
                    yield row


def write_corpus(source: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for row in read_reports(source):
        title = row["title"].strip()
        text = f"# {title}\n\n{strip_furniture(row['full_text'], title).strip()}\n"
        (out / f"{row['province'].strip()}.txt").write_text(text, encoding="utf-8")
        written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE, help="folder of the report CSVs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write <province>.txt into")
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        print(f"no such folder: {args.source}", file=sys.stderr)
        return 1
    written = write_corpus(args.source, args.out)
    print(f"wrote {written} files to {args.out}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
