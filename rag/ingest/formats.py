"""Text out of the file formats people bring: plain text and Markdown, HTML, PDF, Word (.docx).

Each extractor returns the text that becomes `Document.text` (all offsets refer to it) and, for
PDFs, where each page starts, so citations can name the page. Tables become one line per row in
which every cell keeps its column header (`项目：免申即享；数量：两批`).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.encoding import decode_markup

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + (".pdf", ".docx")


def _too_much_text(limits: Limits) -> DocumentError:
    return DocumentError(f"文本过长：提取出的文字超过 {limits.text_chars:,} 字（RAG_MAX_TEXT_CHARS） / extracted text exceeds {limits.text_chars:,} characters")


@dataclass(frozen=True)
class Extracted:
    text: str
    page_starts: tuple[int, ...] = ()  # offset where page 1, 2, … begins (PDF only)
    is_markdown: bool = False


def table_rows_as_text(rows: list[list[str]]) -> list[str]:
    """First row is the header; each later row becomes `header：cell；header：cell`. A table whose rows
    hold one cell each lays out a page, not data: its cells are lines of text. A table whose every
    other cell is a label ending in a colon is a form: `label：value` pairs."""
    rows = [[re.sub(r"\s+", " ", c).strip() for c in row] for row in rows if any(c.strip() for c in row)]
    if len(rows) < 2 or all(sum(1 for c in row if c) <= 1 for row in rows):
        return ["；".join(c for c in row if c) for row in rows]
    if all(len(row) % 2 == 0 and all(k.endswith(("：", ":")) for k in row[::2]) for row in rows):
        # a form of labels and values (`索引号：| FJ…| 文号：| 闽工信…`): label-value pairs, no header
        return ["；".join(f"{k}{v}" for k, v in zip(row[::2], row[1::2])) for row in rows]
    header, out = rows[0], []
    for row in rows[1:]:
        cells = [f"{h}：{c}" if h else c for h, c in zip(header + [""] * len(row), row) if c]
        out.append("；".join(cells))
    return out


class _HTMLText(HTMLParser):
    """Main text of a page: scripts, styles, navigation, headers, footers and forms are dropped;
    block elements end lines; tables keep their headers."""

    SKIP = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg", "button", "select", "template"}
    BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "tr",
        "table",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "title",
        "dd",
        "dt",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.table: list[list[str]] | None = None
        self.cell: list[str] | None = None
        self.heading: int | None = None

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag == "table":
            self.table = []
        elif tag == "tr" and self.table is not None:
            self.table.append([])
        elif tag in ("td", "th") and self.table is not None:
            self.cell = []
        elif tag in self.BLOCK:
            self.parts.append("\n")
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.parts.append("#" * int(tag[1]) + " ")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.skip_depth:
            return
        if tag in ("td", "th") and self.table is not None and self.cell is not None:
            if not self.table:
                self.table.append([])
            self.table[-1].append("".join(self.cell))
            self.cell = None
        elif tag == "table" and self.table is not None:
            self.parts.append("\n" + "\n".join(table_rows_as_text(self.table)) + "\n")
            self.table = None
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self.skip_depth:
            return
        if self.cell is not None:
            self.cell.append(data)
        elif self.table is None:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in "".join(parser.parts).splitlines()]
    text = "\n\n".join(ln for ln in lines if ln)
    return text + "\n" if text else ""


def pdf_text(data: bytes, limits: Limits = Limits()) -> Extracted:
    try:
        from pypdf import PdfReader
        from pypdf.errors import LimitReachedError, PdfReadError
    except ImportError as exc:  # pragma: no cover - requirements.txt installs it
        raise DocumentError("reading PDFs needs pypdf: pip install pypdf") from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise DocumentError("PDF 已加密（需要密码） / encrypted PDF (password required)")
            except (NotImplementedError, PdfReadError) as exc:
                raise DocumentError("PDF 已加密（需要密码） / encrypted PDF (password required)") from exc
        pages, starts, pos = [], [], 0
        for page in reader.pages:
            content = (page.extract_text() or "").strip()
            starts.append(pos)
            pages.append(content + "\n\n")
            pos += len(pages[-1])
            if pos > limits.text_chars:
                raise _too_much_text(limits)
    except DocumentError:
        raise
    except LimitReachedError as exc:  # pypdf's own bounds on streams (decompression bombs)
        raise DocumentError(f"PDF 超出安全上限，已拒绝 / the PDF exceeds a safety limit ({exc})") from exc
    except Exception as exc:  # pypdf raises many types on damaged files
        raise DocumentError(f"PDF 已损坏或无法读取 / damaged or unreadable PDF ({type(exc).__name__})") from exc
    text = "".join(pages)
    if not text.strip():
        raise DocumentError("PDF 没有文字层（扫描件？不支持 OCR） / PDF has no text layer (scanned? OCR is not supported)")
    return Extracted(text, tuple(starts))


MAX_MEMBERS = 10_000


def _xml_parts(archive, members):
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
    import zipfile

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
        import docx
    except ImportError as exc:  # pragma: no cover
        raise DocumentError("reading .docx needs python-docx: pip install python-docx") from exc
    check_archive(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise DocumentError(f".docx 已损坏或无法读取 / damaged or unreadable .docx ({type(exc).__name__})") from exc
    blocks: list[str] = []  # bounded by the XML check above; the text length is checked in extract()
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


def extract(data: bytes, suffix: str, decode, limits: Limits = Limits()) -> Extracted:
    """Text of a file's bytes, by its suffix; `decode` turns bytes into str for text formats."""
    suffix = suffix.lower()
    if suffix in TEXT_SUFFIXES + HTML_SUFFIXES:
        text = decode(data) if suffix in TEXT_SUFFIXES else decode_markup(data)
        if len(text) > limits.text_chars:
            raise _too_much_text(limits)
        if suffix in TEXT_SUFFIXES:
            return Extracted(text, is_markdown=suffix != ".txt")
        from rag.ingest.webpage import page_text  # imports this module

        return Extracted(page_text(text), is_markdown=True)
    if suffix == ".pdf":
        if not data.startswith(b"%PDF"):
            raise DocumentError("不是 PDF 文件（缺少 %PDF 文件头） / not a PDF file (no %PDF header)")
        return pdf_text(data, limits)
    if suffix == ".docx":
        if not data.startswith(b"PK"):
            raise DocumentError("不是 .docx 文件（不是 ZIP 压缩包） / not a .docx file (not a ZIP archive)")
        text = docx_text(data, limits)
        if len(text) > limits.text_chars:
            raise _too_much_text(limits)
        return Extracted(text, is_markdown=True)
    raise DocumentError(f"不支持的文件类型“{suffix}”（支持 {' '.join(SUPPORTED_SUFFIXES)}） / unsupported file type")
