"""`python -m rag log export|summary` and `python -m rag calibrate --from-log`: the question log's
commands (rag/cli.py wires them in)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections import Counter
from pathlib import Path

from rag.usage.log import LOG_FOLDER, QuestionLog

NOT_EXPORTED = {
    "wrongly-refused": " (no passage to score retrieval against)",
    "wrong-answer": " (wrong, but whether the documents answer it is not said)",
    "faq-answered": " (answered from an FAQ entry: no evidence about the documents)",
}


def _log(settings) -> QuestionLog:
    """The knowledge base's log, to read (whatever RAG_LOG says: an existing log is still read)."""
    return QuestionLog(Path(settings.index_dir) / LOG_FOLDER)


def add_log_arguments(parser: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]) -> None:
    """`export` and `summary`, each taking the common flags (`--index`, …) after it."""
    sub = parser.add_subparsers(dest="log_command", required=True)
    p = sub.add_parser("export", parents=parents, help="write the judged questions as a `rag eval` JSONL set (docs/question-log.md)")
    p.add_argument("out", help="the JSONL file to write")
    sub.add_parser("summary", parents=parents, help="how many questions the log holds, judged how")


def add_calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    from rag.usage.calibrate import MAX_FALSE_REFUSALS, MIN_EACH_SIDE, MIN_WEIGHT_QUESTIONS, RESAMPLES

    parser.add_argument("--from-log", action="store_true", help="fit from the knowledge base's judged questions (the question log)")
    parser.add_argument(
        "--min-questions", type=int, default=MIN_WEIGHT_QUESTIONS, help=f"judged passages needed to fit the fusion weight (default {MIN_WEIGHT_QUESTIONS})"
    )
    parser.add_argument(
        "--min-each", type=int, default=MIN_EACH_SIDE, help=f"judged questions of each side (answer / refuse) needed for a threshold (default {MIN_EACH_SIDE})"
    )
    parser.add_argument(
        "--max-false-refusals",
        type=float,
        default=MAX_FALSE_REFUSALS,
        help=f"a fitted threshold refuses at most this share of the questions that should be answered (default {MAX_FALSE_REFUSALS})",
    )
    parser.add_argument("--resamples", type=int, default=RESAMPLES, help=f"bootstrap resamples (default {RESAMPLES})")
    parser.add_argument("--by", choices=("MRR@10", "R@5"), default="MRR@10", help="what the fusion weight is chosen by (default MRR@10; docs/question-log.md)")
    parser.add_argument("--readers", default="rules,model", help="whose thresholds to fit (default rules,model)")
    parser.add_argument("--dry-run", action="store_true", help="print the choices, write nothing")


def run_log(args, settings) -> int:
    reading = _log(settings).read()
    if reading.skipped:
        print(f"note: {reading.skipped} log lines skipped (cut short by a crash, or not records of this format)", file=sys.stderr)
    if args.log_command == "summary":
        labels = Counter(e.label for e in reading.entries)
        print(f"{len(reading.entries)} questions in {reading.files} log files of {settings.index_dir}; {len(reading.judged)} judged")
        for label, n in sorted(labels.items()):
            print(f"  {label}: {n}")
        return 0
    from rag.store import open_store
    from rag.usage.export import documents_text_of, export_rows, write_jsonl

    store = open_store(settings)
    try:
        documents = store.open().documents
    finally:
        store.close()
    exported = export_rows(reading.judged, documents_text_of(documents))
    write_jsonl(exported.rows, Path(args.out))
    kinds = Counter(r["label"] for r in exported.rows)
    print(f"wrote {len(exported.rows)} judged questions to {args.out} (" + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) + ")")
    for why, n in sorted(exported.left_out.items()):
        print(f"  not exported: {n} {why}" + NOT_EXPORTED.get(why, ""))
    print(f"score it with: python -m rag eval {args.out} --corpus <the folder {settings.index_dir} was indexed from>")
    return 0


def run_calibrate(args, assistant) -> int:
    from datetime import datetime, timezone

    from rag.bases.fitted import write_fitted
    from rag.usage.calibrate import calibrate

    reading = _log(assistant.settings).read()
    if reading.skipped:
        print(f"note: {reading.skipped} log lines skipped (cut short by a crash, or not records of this format)", file=sys.stderr)
    readers = tuple(r.strip() for r in args.readers.split(",") if r.strip())
    result = calibrate(
        assistant,
        reading.judged,
        readers=readers,
        min_questions=args.min_questions,
        min_each=args.min_each,
        resamples=args.resamples,
        by=args.by,
        max_false_refusals=args.max_false_refusals,
    )
    gone = f", {result.left_out} whose passage is gone" if result.left_out else ""
    unused = "".join(f", {n} {label} not used" for label, n in sorted(result.unused.items()))
    print(f"{len(reading.entries)} questions in the log of {assistant.settings.index_dir}, {result.judged} judged{gone}{unused}")
    for choice in result.choices:
        print(choice.line())
    values = result.values
    if not values:
        print("nothing fitted: the defaults stay")
        return 0
    if args.dry_run:
        print("--dry-run: nothing written")
        return 0
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    command = "python -m rag " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["calibrate"] else "python -m rag calibrate --from-log"
    provenance = {
        c.setting: {
            "from": "question log",
            "n": c.n,
            "interval": list(c.interval) if c.interval else None,
            "was": c.current,
            "figures": c.figures,
            "date": date,
            "command": command,
        }
        for c in result.choices
        if c.value is not None
    }
    path = write_fitted(Path(assistant.settings.index_dir), values, provenance)
    print(f"wrote {', '.join(f'{k}={v:g}' for k, v in values.items())} to {path}")
    return 0
