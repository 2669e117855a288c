"""`python -m rag kb list|create NAME|rename OLD NEW|remove NAME [--yes]`: the knowledge bases.

Every other command picks one with `--kb NAME` (its id or display name; rag/cli.py resolves it
through `settings_for`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.bases import registry
from rag.errors import RagError


def _root(args: argparse.Namespace):
    from rag.config import Settings

    return Settings.from_env(index_dir=Path(args.index) if args.index else None, store=args.store)


def add_parser(sub) -> None:
    """Register `kb` and its four subcommands on the top parser's subparsers."""
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--index", help="the default index folder, which holds the others in bases/ (default: $RAG_INDEX_DIR or ./index)")
    where.add_argument("--store", choices=["files", "milvus"], help="where the indexes are kept (default: $RAG_STORE or files)")
    kb = sub.add_parser("kb", help="list, create, rename or remove knowledge bases (other commands pick one with --kb NAME)")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)

    p = kb_sub.add_parser("list", parents=[where], help="the knowledge bases: id, name, documents, folder")
    p.add_argument("--json", action="store_true", help="one JSON object per knowledge base per line")
    p.set_defaults(func=cmd_list)
    p = kb_sub.add_parser("create", parents=[where], help="a new, empty knowledge base (any name up to 40 characters)")
    p.add_argument("name")
    p.set_defaults(func=cmd_create)
    p = kb_sub.add_parser("rename", parents=[where], help="change a knowledge base's name (its id and folder stay)")
    p.add_argument("old", help="id or name")
    p.add_argument("new", help="the new name")
    p.set_defaults(func=cmd_rename)
    p = kb_sub.add_parser("remove", parents=[where], help="delete a knowledge base and everything in it (asks first)")
    p.add_argument("name", help="id or name")
    p.add_argument("--yes", action="store_true", help="do not ask (required when stdin is not a terminal)")
    p.set_defaults(func=cmd_remove)


def _documents(n: int | None) -> str:
    return "?" if n is None else str(n)


def cmd_list(args: argparse.Namespace) -> int:
    for base in registry.list_bases(_root(args), count=True):
        if args.json:
            print(
                json.dumps(
                    {"id": base.id, "name": base.name, "documents": base.documents, "folder": str(base.folder), "created": base.created}, ensure_ascii=False
                )
            )
        else:
            print(f"{base.id:<14} {_documents(base.documents):>6} documents  {base.name}  ({base.folder})")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    base = registry.create(_root(args), args.name)
    print(f"created knowledge base {base.name} (id {base.id}) in {base.folder}")
    print(f"add documents with: python -m rag index PATH ... --kb {base.id}")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    before = registry.resolve(_root(args), args.old)
    after = registry.rename(_root(args), before.id, args.new)
    print(f"renamed knowledge base {before.name} to {after.name} (id {after.id})")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    root = _root(args)
    base = next(b for b in registry.list_bases(root, count=True) if b.id == registry.resolve(root, args.name).id)
    if base.is_default:
        raise registry.DefaultKnowledgeBaseError(f"the default knowledge base ({registry.DEFAULT_NAME}) cannot be removed")
    if not args.yes:
        if not sys.stdin.isatty():
            raise RagError(f"removing knowledge base {base.name} deletes {base.folder} and everything in it: confirm with --yes")
        reply = input(f"remove knowledge base {base.name} (id {base.id}, {_documents(base.documents)} documents, {base.folder}) and everything in it? [y/N] ")
        if reply.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 1
    registry.remove(root, base.id)
    print(f"removed knowledge base {base.name} (id {base.id})")
    return 0
