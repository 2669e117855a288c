"""Word documents (.docx): paragraphs, headings (by style name) and tables, in body order.

A .docx is a ZIP archive, so a small file can unpack to gigabytes (a zip bomb): `archive.check_archive`
refuses it from the archive's directory, before python-docx unpacks or parses anything.
"""

from __future__ import annotations

import io
import re

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats.archive import check_archive, damaged
from rag.ingest.formats.base import Decode, Extracted, table_rows_as_text, within_limit

SUFFIXES = (".docx",)


def docx_text(data: bytes, limits: Limits = Limits()) -> str:
    try:
        import docx  # python-docx (absolute import: not this module)
    except ImportError as exc:  # pragma: no cover
        raise DocumentError("reading .docx needs python-docx: pip install python-docx") from exc
    check_archive(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise damaged(".docx", exc) from exc
    blocks: list[str] = []  # bounded by the XML check above; the text length is checked in read()
    body = document.element.body
    for child in body.iterchildren():
        if not isinstance(child.tag, str):  # comments and processing instructions
            continue
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = "".join(node.text or "" for node in child.iter() if isinstance(node.tag, str) and node.tag.endswith("}t"))
            style = child.find(".//{*}pStyle")
            level = None
            if style is not None:
                name = style.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}val", "")
                match = re.match(r"(?i)heading\s*(\d)|标题\s*(\d)", name)
                if match:
                    level = int(match.group(1) or match.group(2))
            if text.strip():
                blocks.append(("#" * level + " " if level else "") + text.strip())
        elif tag == "tbl":
            rows = []
            for tr in child.iter("{*}tr"):
                rows.append(["".join(t.text or "" for t in tc.iter("{*}t")) for tc in tr.iter("{*}tc")])
            blocks.extend(table_rows_as_text(rows))
    return "\n\n".join(blocks) + "\n"


def read(data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted:
    """A .docx's text as Markdown (headings), once its header says it is a ZIP archive."""
    if not data.startswith(b"PK"):
        raise DocumentError("不是 .docx 文件（不是 ZIP 压缩包） / not a .docx file (not a ZIP archive)")
    return Extracted(within_limit(docx_text(data, limits), limits), is_markdown=True)
