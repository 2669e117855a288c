"""ZIP-based formats (.docx, .xlsx, .pptx, .ofd): refuse a zip bomb before anything is unpacked.

A small archive can unpack to gigabytes. `check_archive` reads the archive's directory only and
refuses it when its members would expand past the limits: all members together
(`limits.unpacked_bytes`) and the parts a reader parses as XML (`limits.xml_bytes`, since XML is
parsed into trees several times its size). An Office package's XML parts are counted by content
type, not by name, so renaming a part does not hide it from the limit. `parse_xml` is the one XML
parser for parts read with lxml directly: no entities expanded, no DTD or network fetched.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

from rag.config import Limits
from rag.errors import DocumentError

MAX_MEMBERS = 10_000
MB = 1024 * 1024


def damaged(kind: str, exc: BaseException) -> DocumentError:
    """The one refusal of an archive that cannot be read, naming its format (`.docx`, `.ofd` …)."""
    return DocumentError(f"{kind} 已损坏或无法读取 / damaged or unreadable {kind} ({type(exc).__name__})")


def office_xml_parts(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> Callable[[str], bool]:
    """Which members an Office Open XML reader parses as XML: by the package's content types (an XML
    part may be given any name), and every .xml / .rels name."""
    from xml.etree import ElementTree

    types = next((m for m in members if m.filename == "[Content_Types].xml"), None)
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    if types is not None:
        if types.file_size > MB:
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


def check_archive(data: bytes, limits: Limits, kind: str = ".docx") -> zipfile.ZipFile:
    """The opened archive, or DocumentError when its members would expand past the limits (read
    from its directory, before anything is unpacked)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise DocumentError(f"{kind} 内含文件过多（{len(members):,} 个，上限 {MAX_MEMBERS:,}） / too many archive members")
        parsed_as_xml = office_xml_parts(archive, members)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        raise damaged(kind, exc) from exc
    unpacked = sum(m.file_size for m in members)
    xml = sum(m.file_size for m in members if parsed_as_xml(m.filename))
    if unpacked > limits.unpacked_bytes:
        raise DocumentError(
            f"解压后过大：{unpacked / MB:,.0f} MB，上限 {limits.unpacked_bytes / MB:,.0f} MB（RAG_MAX_UNPACKED_MB；疑似压缩炸弹） / "
            f"unpacks to {unpacked:,} bytes, over the limit"
        )
    if xml > limits.xml_bytes:
        raise DocumentError(
            f"文档内容解压后过大：XML {xml / MB:,.0f} MB，上限 {limits.xml_bytes / MB:,.0f} MB（疑似压缩炸弹） / "
            f"its XML unpacks to {xml:,} bytes, over the limit"
        )
    return archive


def parse_xml(data: bytes) -> Any:
    """An XML part's root element (lxml), parsed without expanding entities or fetching anything;
    lxml's own bounds on depth and node size stay on (no huge_tree)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)
    return etree.fromstring(data, parser)
