"""Chinese document question answering with extracted, cited answers.

Pipeline, one package per stage: ingest (load, formats, govdoc, chunking) → embedding → store
(files or milvus, with bm25) → indexing (build, uploads) → retrieve (hybrid fusion) → read (the
trained reader by default, or the rules; composed with citations), wired by `Assistant`; text/ is
shared by every stage; evaluation/ and train/ sit above answering; serve/ and cli.py are the doors.
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
