"""`python -m rag faq import|list|add|edit|remove`: the knowledge base's FAQ entries from the command line.

rag/cli.py registers the subcommand (`add_arguments`) and calls `run` with the knowledge base's
settings; errors are FaqError (a RagError), one line on stderr there.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from rag.faq.importer import import_file
from rag.faq.store import FaqStore, split_phrasings


def add_arguments(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    """The subcommands, each with the `common` flags (--index, --kb, …) after it."""
    sub = parser.add_subparsers(dest="faq_command", required=True)
    p = sub.add_parser("import", parents=[common], help="add the question–answer pairs of a .csv/.xlsx/.xls file (问题, 答案; optional 来源, 文号, 相似问题)")
    p.add_argument("file")
    p.add_argument("--skip-duplicates", action="store_true", help="keep an existing question's answer (default: the file's answer replaces it)")
    p.add_argument(
        "--no-merge", action="store_true", help="keep a row repeating an entry's answer as its own entry (default: its question joins that entry's 相似问题)"
    )
    p = sub.add_parser("list", parents=[common], help="list the FAQ entries")
    p.add_argument("--json", action="store_true", help="one JSON array of the entries")
    p = sub.add_parser("add", parents=[common], help="add one entry")
    p.add_argument("--question", required=True)
    p.add_argument("--answer", required=True)
    p.add_argument("--source", default="", help="来源: the document or office the answer rests on")
    p.add_argument("--doc-number", default="", help="文号 of that document")
    p.add_argument("--similar", action="append", default=[], metavar="Q", help="相似问题: another phrasing (repeat the flag, or separate by ；, ; or |)")
    p = sub.add_parser("edit", parents=[common], help="change an entry's question, answer, source or 文号")
    p.add_argument("id", type=int)
    p.add_argument("--question")
    p.add_argument("--answer")
    p.add_argument("--source")
    p.add_argument("--doc-number")
    p.add_argument("--similar", action="append", metavar="Q", help="相似问题, replacing the entry's (repeatable; ；, ; or | separate; '' clears)")
    p = sub.add_parser("remove", parents=[common], help="remove entries by id (see `faq list`)")
    p.add_argument("ids", type=int, nargs="+")


def _phrasings(flags: list[str]) -> list[str]:
    """The 相似问题 of repeated `--similar` flags, each possibly several (`A；B`)."""
    return [q for text in flags for q in split_phrasings(text)]


def run(args: argparse.Namespace, settings) -> int:
    store = FaqStore.of(settings)
    command = args.faq_command
    if command == "import":
        report = import_file(
            store, Path(args.file), on_duplicate="skip" if args.skip_duplicates else "update", limits=settings.limits, merge_same_answer=not args.no_merge
        )
        print(f"{Path(args.file).name}: {report.summary()}")
    elif command == "list":
        entries = store.entries()
        if args.json:
            print(json.dumps([asdict(e) for e in entries], ensure_ascii=False, indent=1))
            return 0
        for e in entries:
            where = " · ".join(x for x in (e.source, e.doc_number) if x)
            print(f"#{e.id}  {e.question}" + (f"  （{where}）" if where else ""))
            if e.similar:
                print(f"     相似问题：{'；'.join(e.similar)}")
            print(f"     {e.answer[:100]}{'…' if len(e.answer) > 100 else ''}")
        print(f"{len(entries)} 条常见问题 / FAQ entries in {store.path}")
    elif command == "add":
        entry = store.add(args.question, args.answer, args.source, args.doc_number, origin="command line", similar=_phrasings(args.similar))
        print(f"已添加 / added {entry.label}")
    elif command == "edit":
        similar = None if args.similar is None else _phrasings(args.similar)
        entry = store.edit(args.id, args.question, args.answer, args.source, args.doc_number, similar)
        print(f"已保存 / saved {entry.label}")
    else:
        gone = store.remove(*args.ids)
        print("已删除 / removed " + "、".join(e.label for e in gone))
    return 0
