"""The web chat: `web` (start-up and page layout), `handlers` (what its buttons do), `options` (the
flags and login checks shared by `python app.py` and `python -m rag serve`), `render` (answers as
HTML and JSON) and `login` (the throttled password check)."""

from __future__ import annotations

import argparse


def serve_command(args: argparse.Namespace) -> int:
    """`python -m rag serve`. Gradio is imported here, when the subcommand runs, not when the command
    line is parsed, so the other subcommands stay quick. `args.usage_error` is the subcommand's
    parser error, for the same refusals `python app.py` gives."""
    from rag.serve.web import serve

    return serve(args, args.usage_error)
