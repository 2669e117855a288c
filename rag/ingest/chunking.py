"""Split documents into chunks that keep their exact character span and heading path.

Sections start at heading lines (see headings.py), so a chunk never straddles two headings. Inside
a section langchain's RecursiveCharacterTextSplitter breaks at paragraphs, then lines, then sentence
ends (。！？ with their closing quotes, then ；), then clauses (，, then 、), and only as a last
resort inside a clause (sentences.py). Separators stay at the end of the piece they close, so every chunk is a verbatim slice of the document, located by
searching forward from the previous chunk's start.
"""

from __future__ import annotations

from collections.abc import Iterator

from rag.config import ChunkSettings
from rag.ingest.headings import HeadingStack, numbering_rank, parse_heading
from rag.text.sentences import CHUNK_SEPARATORS
from rag.types import Chunk, Document


def _splitter(settings: ChunkSettings):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=settings.size,
        chunk_overlap=settings.overlap,
        separators=CHUNK_SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=True,
        length_function=len,
    )


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, pos = [], start
    while pos < end:
        line_end = text.find("\n", pos, end)
        line_end = end if line_end < 0 else line_end
        spans.append((pos, line_end))
        pos = line_end + 1
    return spans


def _sections(doc: Document) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """(start, end, heading path) of each heading-delimited section of the body.

    A section holding only headings (`# 标题`, `## 第一章`) joins the next one. A numbered paragraph
    (`二、适用范围包括……等项目。`, see headings.parse_heading) is body text, but it still ends the
    sections its numbering closes: after `一、总体要求` it starts a section under the parent path."""
    text = doc.text
    stack = HeadingStack()
    spans = doc.body_spans or ((0, len(text)),)
    for span_start, span_end in spans:
        section_start, path, has_body = span_start, stack.path, False
        lines = [(a, b) for a, b in _line_spans(text, span_start, span_end) if text[a:b].strip()]
        for i, (a, b) in enumerate(lines):
            line = text[a:b]
            following = text[lines[i + 1][0] : lines[i + 1][1]] if i + 1 < len(lines) else ""
            heading = parse_heading(line, following)
            if heading is not None and heading.text == doc.title and not has_body and following:
                # the title line opening the body is the document's title, which every chunk is
                # embedded under already: on its own it would be a chunk that says nothing (a file
                # holding nothing but its title keeps it, so that it can still be found)
                section_start = min(b + 1, span_end)
                continue
            if heading is not None and heading.text != doc.title and stack.accepts(heading.rank):
                if has_body:
                    yield section_start, a, path
                    section_start = a
                stack.push(heading)
                path, has_body = stack.path, heading.run_in
                continue
            rank = numbering_rank(line) if heading is None else None
            if rank is not None and stack.accepts(rank) and stack.closes(rank):
                if has_body:
                    yield section_start, a, path
                    section_start = a
                stack.close(rank)
                path = stack.path
            has_body = True
        if text[section_start:span_end].strip():
            yield section_start, span_end, path


def chunk_document(doc: Document, settings: ChunkSettings = ChunkSettings()) -> list[Chunk]:
    splitter = _splitter(settings)
    chunks: list[Chunk] = []
    for start, end, path in _sections(doc):
        section = doc.text[start:end]
        cursor = 0
        for piece in splitter.split_text(section):
            found = section.find(piece, cursor)
            if found < 0:  # repetitive text with overlap: any occurrence is an exact slice
                found = section.find(piece)
            if found < 0:  # cannot happen with keep_separator="end"; fail loudly if it ever does
                raise AssertionError(f"chunk not found in its section of {doc.doc_id}")
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{len(chunks)}",
                    doc_id=doc.doc_id,
                    start=start + found,
                    end=start + found + len(piece),
                    source=doc.text,
                    heading_path=path,
                )
            )
            cursor = found + 1
    return chunks


def embedding_text(chunk: Chunk, title: str) -> str:
    """What the retrievers see: the chunk under its document title and heading path."""
    context = " / ".join((title, *chunk.heading_path)) if title else chunk.heading
    return f"{context}\n{chunk.text}" if context else chunk.text
