"""The knowledge base as the source view reads it: its documents and chunks (one published state of
the store, opened without the embedding model) and, where the index recorded where a document came
from, its original file.

Originals are read only from the places the index itself knows: `<index>/uploads/` for uploads
(doc id `uploads/<name>`) and the folders and files of the last builds (`sources.json`, doc ids
relative to them). A doc id is looked up among the documents first, and refused if it is not a
plain relative path; the file found must still have the sha256 the document was indexed with, so a
moved or edited file is "unavailable", never a wrong page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rag.config import Settings
from rag.errors import DocumentError
from rag.indexing.build import UPLOAD_PREFIX
from rag.indexing.locks import UPLOAD_FOLDER
from rag.ingest.formats import image as image_format
from rag.ingest.load import content_hash, read_source
from rag.source_view.cache import PAGE_CACHE, PageCache
from rag.source_view.errors import OriginalUnavailableError, SpanError, UnknownDocumentError
from rag.source_view.excerpt import Excerpt, check_span, excerpt, page_span
from rag.source_view.pdf_page import DEFAULT_DPI, PageImage, pdf_page_png, require_pdf
from rag.source_view.scan_page import image_png, quote_parts
from rag.store import Snapshot, Store, open_store
from rag.store.base import SOURCES
from rag.types import Document


def check_doc_id(doc_id: str) -> None:
    """A doc id is a relative path with "/" separators and no `..`, `.` or empty parts."""
    parts = doc_id.split("/")
    bad = not doc_id or "\\" in doc_id or "\x00" in doc_id or doc_id.startswith("/") or PurePosixPath(doc_id).is_absolute()
    if bad or any(part in ("", ".", "..") for part in parts) or (len(doc_id) > 1 and doc_id[1] == ":"):
        raise UnknownDocumentError(f"文档编号无效 / not a document id: {doc_id!r}")


def is_image(doc_id: str) -> bool:
    """Whether the document is an image file (a scan or a photographed page): shown as the image."""
    return PurePosixPath(doc_id).suffix.lower() in image_format.SUFFIXES


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (OSError, ValueError):
        return False


@dataclass
class SourceLibrary:
    settings: Settings
    store: Store
    snapshot: Snapshot
    cache: PageCache = field(default=PAGE_CACHE)  # rendered pages, shared by every library of the process
    owns_store: bool = True  # False: the store is someone else's to close (`borrowing`)

    @classmethod
    def open(cls, settings: Settings) -> "SourceLibrary":
        """The published state of the configured store (IndexNotFoundError and the like); close() it."""
        store = open_store(settings)
        try:
            return cls(settings, store, store.open())
        except BaseException:
            store.close()
            raise

    @classmethod
    def borrowing(cls, settings: Settings, store: Store, snapshot: Snapshot) -> "SourceLibrary":
        """A library over a state another keeps open — the web chat's assistant's, loaded once per
        published generation — rather than reading the index again per click; close() leaves the
        store open."""
        return cls(settings, store, snapshot, owns_store=False)

    def close(self) -> None:
        if self.owns_store:
            self.store.close()

    def __enter__(self) -> "SourceLibrary":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def document(self, doc_id: str) -> Document:
        check_doc_id(doc_id)
        found = self.snapshot.documents.get(doc_id)
        if found is None:
            raise UnknownDocumentError(f"知识库中没有这个文档 / no document '{doc_id}' in the knowledge base")
        return found

    def excerpt(self, doc_id: str, start: int, end: int, context_chars: int = 300) -> Excerpt:
        document = self.document(doc_id)
        check_span(document, start, end)
        chunks = [c for c in self.snapshot.chunks if c.doc_id == doc_id]
        return excerpt(document, start, end, context_chars, chunks)

    def original_path(self, doc_id: str) -> Path:
        """Where the document's original is, among the places the index recorded (never elsewhere)."""
        self.document(doc_id)
        index_dir = self.settings.index_dir
        candidates: list[tuple[Path, Path]] = []  # (file, the folder it must stay inside)
        if doc_id.startswith(UPLOAD_PREFIX):
            uploads = index_dir / UPLOAD_FOLDER
            candidates.append((uploads / doc_id[len(UPLOAD_PREFIX) :], uploads))
        try:
            recorded = json.loads((index_dir / SOURCES).read_text(encoding="utf-8"))["paths"]
        except (OSError, ValueError, KeyError, TypeError):
            recorded = []
        for raw in recorded if isinstance(recorded, list) else []:
            if not isinstance(raw, str):
                continue
            source = Path(raw)
            if source.is_dir():
                candidates.append((source / doc_id, source))
            elif source.name == doc_id:
                candidates.append((source, source.parent))
        for path, folder in candidates:
            if path.is_file() and _inside(path, folder):
                return path
        raise OriginalUnavailableError(f"原文件不在知识库记录的位置 / the original of '{doc_id}' is not where the index recorded its sources")

    def original(self, doc_id: str) -> bytes:
        """The original file's bytes, as indexed (a file changed since is refused)."""
        document = self.document(doc_id)
        try:
            data = read_source(self.original_path(doc_id), self.settings.max_file_bytes)
        except DocumentError as exc:
            raise OriginalUnavailableError(f"原文件无法读取 / the original of '{doc_id}' cannot be read ({exc})") from None
        if content_hash(data) != document.content_hash:
            raise OriginalUnavailableError(f"原文件在建索引后已改动，请重建索引 / the original of '{doc_id}' changed since it was indexed; index it again")
        return data

    def page_image(self, doc_id: str, start: int, end: int, dpi: int = DEFAULT_DPI) -> PageImage:
        """The page holding `start` — a PDF page, or a frame of an image file — with the quote
        [start, end) highlighted (a quote running onto the next page is highlighted up to its
        page's end): on a page with a text layer the quoted characters, on a recognised (OCR'd)
        page the quoted part of each of its lines."""
        document = self.document(doc_id)
        check_span(document, start, end)
        page = document.page_of(start)
        if page is None:
            raise OriginalUnavailableError(f"文档没有分页，无法显示页面图像 / '{doc_id}' has no pages: no page image")
        data = self.original(doc_id)
        page_start, page_end = page_span(document, page)
        if start >= page_end:
            raise SpanError(f"引用位置超出文档范围 / offset {start} is on no page of '{doc_id}'")
        page_text = document.text[page_start:page_end]
        span = (start - page_start, min(end, page_end) - page_start)
        lines = document.line_boxes.on_page(page)
        parts = quote_parts(lines, start, min(end, page_end)) if lines else None
        key = (document.content_hash, page, span, dpi, parts is not None)  # an index rebuilt with boxes: not the old render
        if is_image(doc_id):
            return self.cache.get_or_render(key, lambda: image_png(data, page, parts, dpi=dpi))
        require_pdf(data, doc_id)
        return self.cache.get_or_render(key, lambda: pdf_page_png(data, page, span, page_text, dpi=dpi, ocr_parts=parts))

    def pages(self, doc_id: str) -> int:
        """How many pages the document has (0: a document without pages)."""
        return len(self.document(doc_id).page_starts)

    def plain_page_image(self, doc_id: str, page: int, dpi: int = DEFAULT_DPI) -> PageImage:
        """A page of the PDF or image file without highlight (the source view's neighbouring pages);
        bounded to the document's pages (SpanError otherwise)."""
        document = self.document(doc_id)
        count = len(document.page_starts)
        if count == 0:
            raise OriginalUnavailableError(f"文档没有分页，无法显示页面图像 / '{doc_id}' has no pages: no page image")
        if not 1 <= page <= count:
            raise SpanError(f"文档没有第 {page} 页 / '{doc_id}' has no page {page} (it has {count})")
        data = self.original(doc_id)
        if is_image(doc_id):
            return self.cache.get_or_render((document.content_hash, page, None, dpi), lambda: image_png(data, page, dpi=dpi))
        require_pdf(data, doc_id)
        return self.cache.get_or_render((document.content_hash, page, None, dpi), lambda: pdf_page_png(data, page, dpi=dpi))
