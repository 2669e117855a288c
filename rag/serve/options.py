"""The web chat's flags and start-up checks, shared by `python app.py` and `python -m rag serve`.

Both entry points build their flags with `add_arguments` and vet them with `login_from_env`, so the
two cannot drift apart. Nothing here imports Gradio: `python -m rag` builds this parser for every
subcommand and must stay quick.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DESCRIPTION = "政务文档问答助手 (web chat)"


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The web chat's flags. The defaults are strings that argparse converts when it parses, so a
    malformed RAG_PORT fails only the web chat's own parse, not every `python -m rag` subcommand."""
    parser.add_argument("--host", default=os.environ.get("RAG_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=os.environ.get("RAG_PORT", "7860"))
    parser.add_argument("--index", help="index folder (default: $RAG_INDEX_DIR or ./index)")
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    return parser


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The parser of `python app.py` (its program name is the script's, as argparse picks it)."""
    return add_arguments(argparse.ArgumentParser(prog=prog, description=DESCRIPTION))


def login_from_env(args: argparse.Namespace, error: Callable[[str], NoReturn]) -> tuple[str, str] | None:
    """The login from RAG_USERNAME and RAG_PASSWORD, or None when neither is set.

    Refuses (through `error`, a parser's usage error) a half-configured login and a public --share
    link without one; warns on stderr when the app listens beyond loopback with no login. All of
    this runs before any model loads, so a mistake is reported at once.
    """
    user, password = os.environ.get("RAG_USERNAME"), os.environ.get("RAG_PASSWORD")
    if bool(user) != bool(password):
        error("set both RAG_USERNAME and RAG_PASSWORD to enable the login (only one is set: refusing to start without a login)")
    if args.share and not (user and password):
        error("--share publishes the app (uploads and deletions included): set RAG_USERNAME and RAG_PASSWORD first")
    if not user and args.host not in LOOPBACK:
        print(
            f"warning: listening on {args.host} without a login: anyone who can reach this port can ask, upload and delete documents; "
            "set RAG_USERNAME and RAG_PASSWORD",
            file=sys.stderr,
            flush=True,
        )
    return (user, password) if user and password else None
