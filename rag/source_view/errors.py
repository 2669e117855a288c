"""Refusals of the source view: each a one-line message, Chinese then English, like the others."""

from __future__ import annotations

from rag.errors import RagError


class SourceViewError(RagError):
    """A request to show a document's source that is refused."""


class UnknownDocumentError(SourceViewError):
    """The document id is not one of the knowledge base's documents (or is not a plain id at all)."""


class SpanError(SourceViewError):
    """The offsets are not a span inside the document."""


class OriginalUnavailableError(SourceViewError):
    """The original file cannot be shown: not recorded, moved, changed since indexing, or not a PDF."""
