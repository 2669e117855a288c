"""Slides (.pptx): each slide's title as a heading, its text and tables below, slide by slide.

python-pptx reads the package (after the ZIP limits of .docx). A slide's title placeholder becomes
a Markdown heading (`# 工作进展`; a slide without one gets `# 第3页`), its other shapes follow top to
bottom, left to right (the order a reader's eye takes, not the order they were drawn): text frames
paragraph by paragraph, tables as `列名：值` lines (`base.table_rows_as_text`), grouped shapes
opened. Each slide is a page (`Extracted.page_starts`), so a citation names the slide.
"""

from __future__ import annotations

import io
from typing import Any

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats.archive import check_archive, damaged
from rag.ingest.formats.base import Decode, Extracted, table_rows_as_text, too_much_text

SUFFIXES = (".pptx",)


def _shape_lines(shape: Any) -> list[str]:
    if shape.shape_type is not None and int(shape.shape_type) == 6:  # MSO_SHAPE_TYPE.GROUP
        return [line for child in _in_reading_order(shape.shapes) for line in _shape_lines(child)]
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        return table_rows_as_text(rows)
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        lines = ("".join(run.text for run in p.runs).strip() for p in shape.text_frame.paragraphs)
        return [line for line in lines if line]
    return []


def _in_reading_order(shapes: Any) -> list[Any]:
    return sorted(shapes, key=lambda s: ((s.top or 0) // 50_000, s.left or 0))  # rows 50,000 EMU (~1.4 mm) apart


def _slide_text(slide: Any, number: int) -> str:
    title_shape = slide.shapes.title
    title = title_shape.text_frame.text.strip().replace("\n", " ").replace("\v", " ") if title_shape is not None else ""
    lines = [f"# {title or f'第{number}页'}"]
    for shape in _in_reading_order(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        lines.extend(_shape_lines(shape))
    return "\n\n".join(line.replace("\v", " ") for line in lines) + "\n\n"


def pptx_text(data: bytes, limits: Limits = Limits()) -> Extracted:
    from pptx import Presentation

    check_archive(data, limits, ".pptx")
    try:
        deck = Presentation(io.BytesIO(data))
        text, starts = "", []
        for number, slide in enumerate(deck.slides, 1):
            starts.append(len(text))
            text += _slide_text(slide, number)
            if len(text) > limits.text_chars:
                raise too_much_text(limits)
    except DocumentError:
        raise
    except Exception as exc:  # python-pptx and lxml raise many types on damaged files
        raise damaged(".pptx", exc) from exc
    return Extracted(text, tuple(starts), is_markdown=True)


def read(data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted:
    """A deck's slides as Markdown, once its header says it is a ZIP archive."""
    if not data.startswith(b"PK"):
        raise DocumentError("不是 .pptx 文件（不是 ZIP 压缩包） / not a .pptx file (not a ZIP archive)")
    return pptx_text(data, limits)
