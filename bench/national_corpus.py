"""Turn the national (State Council) government work reports of 2021–2025 into a folder of text files.

    python bench/national_corpus.py                      # ../shared/data/gov_reports/government_work_reports.jsonl -> bench/out/national_reports
    python bench/national_corpus.py SRC --out DIR

SRC is a JSONL file with one row per text (`title, url, content, year`); besides the reports it holds the NPC
resolutions on them (`…关于政府工作报告的决议`, year null), which are skipped. For each year in YEARS the row titled
`<year>年中华人民共和国国务院政府工作报告` is written as `<year>年政府工作报告.txt` = `# <title>`, a blank line,
then the content, with Wikisource's licence footer (from `本作品是中华人民共和国的` on) cut and runs of blank
lines (and lines of zero-width spaces) squeezed to one. Running it again rewrites the same files.
This folder is the corpus of `bench/data/national_reports_questions.jsonl` (see bench/data/README.md).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "gov_reports" / "government_work_reports.jsonl"
DEFAULT_OUT = ROOT / "bench" / "out" / "national_reports"
YEARS = (2021, 2022, 2023, 2024, 2025)
FOOTER = "本作品是中华人民共和国的"  # Wikisource's public-domain notice, not part of the report


def clean(content: str) -> str:
    """The content without the licence footer, zero-width spaces, trailing spaces and runs of blank lines."""
    cut = content.find(FOOTER)
    if cut >= 0:
        content = content[:cut]
    lines = [line.replace("\u200b", "").rstrip() for line in content.splitlines()]  # 2021 has lines of just U+200B
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def write_corpus(source: Path, out: Path) -> int:
    wanted = {f"{year}年中华人民共和国国务院政府工作报告": year for year in YEARS}
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(source, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            title = (row.get("title") or "").strip()
            year = wanted.get(title)
            if year is None or str(row.get("year")) != str(year) or not row.get("content"):
                continue
            (out / f"{year}年政府工作报告.txt").write_text(f"# {title}\n\n{clean(row['content'])}\n", encoding="utf-8")
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE, help="the reports' JSONL file")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write <year>年政府工作报告.txt into")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"no such file: {args.source}", file=sys.stderr)
        return 1
    written = write_corpus(args.source, args.out)
    print(f"wrote {written} files to {args.out}")
    return 0 if written == len(YEARS) else 1


if __name__ == "__main__":
    sys.exit(main())
