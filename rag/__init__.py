"""Chinese document question answering with extracted, cited answers.

Pipeline, one module per stage: loading (+ govdoc) → chunking (+ headings) → embedding → store →
retrieve (+ bm25, segment) → answer (+ question, span) → citations, wired by `Assistant`.
"""

from rag.assistant import Assistant
from rag.config import ChunkSettings, RetrievalSettings, Settings
from rag.errors import DocumentError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, RagError
from rag.indexing.build import IndexReport, build_index, has_index
from rag.types import Answer, AnswerSentence, Chunk, Citation, Document, Passage, SearchResult

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
