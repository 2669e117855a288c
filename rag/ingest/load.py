"""Load files into Documents: decode bytes, then read government-document structure.

Text is kept as decoded (only a BOM is dropped) so every offset refers to what is stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.encoding import decode_bytes
from rag.ingest.formats import SUPPORTED_SUFFIXES, extract, unsupported_type
from rag.ingest.govdoc import analyse
from rag.types import Document, LineBoxes

log = logging.getLogger("rag.ingest")


@dataclass(frozen=True)
class LoadProblem:
    path: str
    reason: str


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_source(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of a file we can index, or DocumentError saying why not (type, size, unreadable)."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise unsupported_type(path.suffix)
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise DocumentError(f"文件过大：{size:,} 字节，上限 {max_bytes:,} / too large")
        return path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"无法读取 / cannot read: {exc.strerror or exc}") from exc


def load_document(path: Path, doc_id: str, max_bytes: int | None = None, limits: Limits = Limits()) -> Document:
    return document_from_bytes(read_source(path, max_bytes), doc_id, suffix=path.suffix, limits=limits)


def document_from_bytes(data: bytes, doc_id: str, suffix: str = ".txt", limits: Limits = Limits()) -> Document:
    if not data.strip():
        raise DocumentError("空文件（没有文字） / empty file (no text)")
    extracted = extract(data, suffix, decode_bytes, limits)
    for warning in extracted.warnings:  # the reader does not know the file's name; the log needs it
        log.warning("%s: %s", doc_id, warning)
    text = extracted.text
    if not text.strip():
        raise DocumentError("空文件（没有文字） / empty file (no text)")
    structure = analyse(text, fallback_title=Path(doc_id).stem, is_markdown=extracted.is_markdown)
    body_spans = structure.body_spans
    if not any(text[a:b].strip() for a, b in body_spans):
        body_spans = ((0, len(text)),)  # all of it reads like page furniture: index it rather than lose the file
    return Document(
        doc_id=doc_id,
        title=structure.title,
        text=text,
        content_hash=content_hash(data),
        metadata=structure.metadata,
        body_spans=body_spans,
        page_starts=extracted.page_starts,
        line_boxes=LineBoxes.of(extracted.line_boxes),
    )


def iter_source_files(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """Yield (file, doc_id) for every supported-looking file under the given files and folders.

    doc_id is the path relative to the folder given (a file given directly: its name).
    Hidden files and folders are skipped. Unsupported suffixes are yielded too, so that they are
    reported rather than silently ignored - except inside folders, where only supported ones count.
    """
    for root in paths:
        if root.is_dir():
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                rel = file.relative_to(root)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if file.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield file, rel.as_posix()
        else:
            yield root, root.name
