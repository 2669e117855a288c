"""Word documents (.docx): paragraphs, headings (by style name) and tables, in body order.

A .docx is a ZIP archive, so a small file can unpack to gigabytes (a zip bomb). `check_archive`
reads the archive's directory and refuses it, before anything is unpacked or parsed, when its
members would expand past the limits; the XML parts python-docx parses are counted by content type,
not by name, so renaming a part does not hide it from the limit.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats.base import Decode, Extracted, table_rows_as_text, within_limit

SUFFIXES = (".docx",)
MAX_MEMBERS = 10_000


def _xml_parts(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> Callable[[str], bool]:
    """Which members a .docx reader parses as XML: by the package's content types (an XML part may
    be given any name), and every .xml / .rels name."""
    from xml.etree import ElementTree

    types = next((m for m in members if m.filename == "[Content_Types].xml"), None)
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    if types is not None:
        if types.file_size > 1024 * 1024:
            raise ValueError("content types part too large")
        for node in ElementTree.fromstring(archive.read(types)):
            tag, kind = node.tag.rsplit("}", 1)[-1], node.get("ContentType", "")
            if tag == "Default":
                defaults[node.get("Extension", "").lower()] = kind
            elif tag == "Override":
                overrides[node.get("PartName", "").lstrip("/")] = kind

    def parsed_as_xml(name: str) -> bool:
        kind = overrides.get(name) or defaults.get(name.rsplit(".", 1)[-1].lower(), "")
        return kind.endswith("xml") or name.lower().endswith((".xml", ".rels"))

    return parsed_as_xml


def check_archive(data: bytes, limits: Limits) -> None:
    """Refuse a ZIP whose members would expand past the limits, before anything is unpacked."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise DocumentError(f".docx 内含文件过多（{len(members):,} 个，上限 {MAX_MEMBERS:,}） / too many archive members")
        parsed_as_xml = _xml_parts(archive, members)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        raise DocumentError(f".docx 已损坏或无法读取 / damaged or unreadable .docx ({type(exc).__name__})") from exc
    unpacked = sum(m.file_size for m in members)
    xml = sum(m.file_size for m in members if parsed_as_xml(m.filename))
    mb = 1024 * 1024
    if unpacked > limits.unpacked_bytes:
        raise DocumentError(
            f"解压后过大：{unpacked / mb:,.0f} MB，上限 {limits.unpacked_bytes / mb:,.0f} MB（RAG_MAX_UNPACKED_MB；疑似压缩炸弹） / "
            f"unpacks to {unpacked:,} bytes, over the limit"
        )
    if xml > limits.xml_bytes:
        raise DocumentError(
            f"文档内容解压后过大：XML {xml / mb:,.0f} MB，上限 {limits.xml_bytes / mb:,.0f} MB（疑似压缩炸弹） / "
            f"its XML unpacks to {xml:,} bytes, over the limit"
        )


def docx_text(data: bytes, limits: Limits = Limits()) -> str:
    try:
        import docx  # python-docx (absolute import: not this module)
    except ImportError as exc:  # pragma: no cover
        raise DocumentError("reading .docx needs python-docx: pip install python-docx") from exc
    check_archive(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise DocumentError(f".docx 已损坏或无法读取 / damaged or unreadable .docx ({type(exc).__name__})") from exc
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
