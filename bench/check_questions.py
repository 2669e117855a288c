"""Check a hand-written JSONL question set against its corpus folder.

    python bench/check_questions.py                                   # the provincial 2026 set
    python bench/check_questions.py QUESTIONS.jsonl --corpus DIR

Each line: `{"question", "answers": [...], "docs": [...], "answerable": bool, "style", "note"}`. Checked:
every doc exists in the corpus; an answerable question has answers and docs, and each answer occurs
verbatim in each of its docs; an unanswerable one has neither; the question does not contain any of its
answers; no question is asked twice. Prints the counts by style and answerability, and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = ROOT / "bench" / "data" / "provincial_2026_questions.jsonl"
DEFAULT_CORPUS = ROOT / "bench" / "out" / "provincial_2026"


def load(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            row["_line"] = n
            rows.append(row)
    return rows


def check(rows: list[dict], corpus: Path) -> tuple[list[str], list[str]]:
    """(failures, notes): notes are answers found more than once in their document (allowed, but looser gold)."""
    failures: list[str] = []
    notes: list[str] = []
    texts: dict[str, str | None] = {}
    seen: dict[str, int] = {}
    for row in rows:
        where = f"line {row['_line']}"
        question = row.get("question", "")
        answers: list[str] = row.get("answers", [])
        docs: list[str] = row.get("docs", [])
        answerable = row.get("answerable", True)
        if not question.strip():
            failures.append(f"{where}: empty question")
        if question in seen:
            failures.append(f"{where}: duplicate of line {seen[question]}: {question}")
        seen.setdefault(question, row["_line"])
        if answerable and not (answers and docs):
            failures.append(f"{where}: answerable but without answers or docs")
        if not answerable and (answers or docs):
            failures.append(f"{where}: unanswerable but with answers or docs")
        for answer in answers:
            if not answer:
                failures.append(f"{where}: empty answer string")
            elif answer in question:
                failures.append(f"{where}: the question contains its answer {answer!r}")
        for doc in docs:
            if doc not in texts:
                path = corpus / doc
                texts[doc] = path.read_text(encoding="utf-8") if path.is_file() else None
            text = texts[doc]
            if text is None:
                failures.append(f"{where}: no such document {doc}")
                continue
            for answer in filter(None, answers):
                count = text.count(answer)
                if count == 0:
                    failures.append(f"{where}: {answer!r} not in {doc}")
                elif count > 1:
                    notes.append(f"{where}: {answer!r} occurs {count} times in {doc}")
    return failures, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="?", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder the docs are relative to (bench/provincial_corpus.py writes it)")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"no corpus folder {args.corpus}: run python bench/provincial_corpus.py first", file=sys.stderr)
        return 1
    rows = load(args.questions)
    failures, notes = check(rows, args.corpus)
    by_kind = Counter((row.get("style", "?"), "answerable" if row.get("answerable", True) else "unanswerable") for row in rows)
    docs = {d for row in rows for d in row.get("docs", [])}
    print(f"{len(rows)} questions, {len(docs)} documents with gold")
    for (style, kind), n in sorted(by_kind.items()):
        print(f"  {style:<9} {kind:<13} {n}")
    for note in notes:
        print(f"  note: {note}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    print("FAILED" if failures else "OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
