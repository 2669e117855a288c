"""See the source: a citation's place in its document — the text around the quote with its headings,
page and metadata, and for PDFs and images the page rendered with the quote highlighted: the quoted
characters from a PDF's text layer, the quoted part of each OCR line on a scan (renders kept in a
size-bounded cache)."""

from rag.source_view.cache import PAGE_CACHE, PageCache
from rag.source_view.errors import OriginalUnavailableError, SourceViewError, SpanError, UnknownDocumentError
from rag.source_view.excerpt import Excerpt, excerpt
from rag.source_view.library import SourceLibrary, check_doc_id
from rag.source_view.pdf_page import PageImage, pdf_page_png
from rag.source_view.scan_page import image_png, quote_parts

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
    "image_png",
    "pdf_page_png",
    "quote_parts",
]
