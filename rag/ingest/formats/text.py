"""Plain text and Markdown: the decoded bytes are the text, as they are (offsets refer to them)."""

from __future__ import annotations

from rag.config import Limits
from rag.ingest.formats.base import Decode, Extracted, within_limit

SUFFIXES = (".txt", ".md", ".markdown")


def read(data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted:
    """The decoded text; Markdown headings count as headings for every suffix but `.txt`."""
    return Extracted(within_limit(decode(data), limits), is_markdown=suffix != ".txt")
