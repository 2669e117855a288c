"""Chinese document question answering with extracted, cited answers.

Pipeline, one module per stage: loading (+ govdoc) → chunking (+ headings) → embedding → store →
retrieve (+ bm25, segment) → answer (+ question, span) → citations, wired by `Assistant`.
"""

from .assistant import Assistant
from .config import ChunkSettings, RetrievalSettings, Settings
from .errors import DocumentError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, RagError
from .indexer import IndexReport, build_index, has_index
from .types import Answer, AnswerSentence, Chunk, Citation, Document, Passage, SearchResult

__all__ = [
    "Answer",
    "AnswerSentence",
    "Assistant",
    "Chunk",
    "ChunkSettings",
    "Citation",
    "Document",
    "DocumentError",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexReport",
    "Passage",
    "RagError",
    "RetrievalSettings",
    "SearchResult",
    "Settings",
    "build_index",
    "has_index",
]
