"""Split documents into chunks that keep their exact character span and heading path.

Sections start at heading lines (see headings.py), so a chunk never straddles two headings. Inside
a section langchain's RecursiveCharacterTextSplitter breaks at paragraphs, then lines, then sentence
ends (。！？；), then clauses (，、), and only as a last resort inside a clause. Separators stay at
the end of the piece they close, so every chunk is a verbatim slice of the document, located by
searching forward from the previous chunk's start.
"""

from __future__ import annotations

from collections.abc import Iterator

from .config import ChunkSettings
from .headings import HeadingStack, parse_heading
from .types import Chunk, Document

SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "!", "?", ";", "，", "、", ",", ""]


def _splitter(settings: ChunkSettings):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=settings.size,
        chunk_overlap=settings.overlap,
        separators=SEPARATORS,
        keep_separator="end",
        strip_whitespace=True,
        length_function=len,
    )


def _sections(doc: Document) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """(start, end, heading path) of each heading-delimited section of the body."""
    text = doc.text
    stack = HeadingStack()
    spans = doc.body_spans or ((0, len(text)),)
    for span_start, span_end in spans:
        section_start, path = span_start, stack.path
        pos = span_start
        while pos < span_end:
            line_end = text.find("\n", pos, span_end)
            line_end = span_end if line_end < 0 else line_end
            heading = parse_heading(text[pos:line_end])
            opens_body = not text[section_start:pos].strip() and text[line_end:span_end].strip()
            if heading is not None and heading.text == doc.title and opens_body:
                # the title line opening the body is the document's title, which every chunk is
                # embedded under already: on its own it would be a chunk that says nothing (a file
                # holding nothing but its title keeps it, so that it can still be found)
                section_start = min(line_end + 1, span_end)
            elif heading is not None and heading.text != doc.title and stack.accepts(heading):
                if _has_body(text[section_start:pos]):
                    yield section_start, pos, path
                    section_start = pos
                # a section holding only headings ("# 标题", "## 第一章") joins the next one
                stack.push(heading)
                path = stack.path
            pos = line_end + 1
        if text[section_start:span_end].strip():
            yield section_start, span_end, path


def _has_body(section: str) -> bool:
    """True when the section has text besides bare heading lines (an inline heading such as
    `第五条 民事主体…` or `(二)推动政策精准落地。充分发挥…` carries body text)."""
    for line in section.splitlines():
        stripped = line.strip().lstrip("#").strip()
        if not stripped:
            continue
        heading = parse_heading(line)
        if heading is None or len(stripped) > len(heading.text) + 1:
            return True
    return False


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
