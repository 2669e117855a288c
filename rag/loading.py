"""Load files into Documents: decode bytes, then read government-document structure.

Text is kept as decoded (only a BOM is dropped) so every offset refers to what is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import DocumentError
from .formats import SUPPORTED_SUFFIXES, Limits, extract
from .govdoc import analyse
from .types import Document

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode_bytes(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), UTF-16 (BOM, or evident from NUL bytes) or GB18030.

    GB18030 is a superset of GBK and GB2312, the encodings of older Chinese government files.
    Raises DocumentError for data that looks binary or decodes in none of them.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data[len(bom) :], encoding)
    if data[:200].count(b"\x00") > 0:
        sample = data[:4000]
        if len(sample) % 2 == 0 and sample[1::2].count(0) > len(sample) // 4:
            return _strict(data, "utf-16-le")
        if len(sample) % 2 == 0 and sample[0::2].count(0) > len(sample) // 4:
            return _strict(data, "utf-16-be")
        raise DocumentError("看起来是二进制文件（含 NUL 字节） / looks like a binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _best_legacy_decoding(data)
    if _looks_binary(text):
        raise DocumentError("看起来是二进制文件（含控制字符） / looks like a binary file (control characters)")
    return text


def _plausibility(text: str) -> float:
    """Share of characters that are common in Chinese documents: CJK, ASCII, CJK punctuation."""
    good = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff" or " " <= ch <= "~" or ch in "\n\r\t" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef")
    return good / max(len(text), 1)


def _best_legacy_decoding(data: bytes) -> str:
    """GB18030 (GBK) or BOM-less UTF-16: whichever decodes into the most plausible Chinese text."""
    candidates = []
    for encoding in ("gb18030", "utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        candidates.append((_plausibility(text[:4000]), text))
    if not candidates:
        raise DocumentError("无法识别的文字编码（不是 UTF-8、GB18030/GBK 或 UTF-16） / not valid UTF-8, GB18030/GBK or UTF-16 text")
    score, text = max(candidates, key=lambda c: c[0])
    if score < 0.8:
        raise DocumentError("无法识别的文字编码或二进制文件 / not valid UTF-8, GB18030/GBK or UTF-16 text (or a binary file)")
    return text


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DocumentError(f"不是有效的 {encoding} 文本 / not valid {encoding} text") from exc


def _looks_binary(text: str) -> bool:
    sample = text[:4000]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return controls > max(4, len(sample) // 100)


@dataclass(frozen=True)
class LoadProblem:
    path: str
    reason: str


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_source(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of a file we can index, or DocumentError saying why not (type, size, unreadable)."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"不支持的文件类型“{path.suffix}”（支持 {' '.join(SUPPORTED_SUFFIXES)}） / unsupported file type")
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
    text = extracted.text
    if not text.strip():
        raise DocumentError("空文件（没有文字） / empty file (no text)")
    structure = analyse(text, fallback_title=Path(doc_id).stem, is_markdown=extracted.is_markdown)
    if not any(text[a:b].strip() for a, b in structure.body_spans):
        raise DocumentError("去掉页面附属内容后没有正文 / no body text after removing page boilerplate")
    return Document(
        doc_id=doc_id,
        title=structure.title,
        text=text,
        content_hash=content_hash(data),
        metadata=structure.metadata,
        body_spans=structure.body_spans,
        page_starts=extracted.page_starts,
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
