"""See the source: a citation's place in its document — the text around the quote with its headings,
page and metadata, and for PDFs the page rendered with the quoted characters highlighted (renders
kept in a size-bounded cache)."""

from rag.source_view.cache import PAGE_CACHE, PageCache
from rag.source_view.errors import OriginalUnavailableError, SourceViewError, SpanError, UnknownDocumentError
from rag.source_view.excerpt import Excerpt, excerpt
from rag.source_view.library import SourceLibrary, check_doc_id
from rag.source_view.pdf_page import PageImage, pdf_page_png

__all__ = [
    "Excerpt",
    "PAGE_CACHE",
    "PageCache",
    "OriginalUnavailableError",
    "PageImage",
    "SourceLibrary",
    "SourceViewError",
    "SpanError",
    "UnknownDocumentError",
    "check_doc_id",
    "excerpt",
    "pdf_page_png",
]
