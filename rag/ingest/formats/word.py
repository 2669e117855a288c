"""Legacy word-processor files: Word 97–2003 `.doc`, Kingsoft WPS `.wps`, and `.rtf`.

They are converted by LibreOffice (`soffice.py`) to XHTML and read like a page (`html.html_text`):
headings become Markdown headings, tables one line per row with each cell under its column header,
and automatic numbering stays in the text (`第一章`, `第一条`, `（一）`), which a conversion to .docx
would leave in the numbering definitions. docs/benchmarks.md compares this with antiword, catdoc,
unrtf and striprtf on real files.

What a file is, is read from its content, not its name: `.wps` is both Kingsoft WPS Writer (a Word
binary document: an OLE file with a `WordDocument` stream) and Microsoft Works (an OLE file with a
`CONTENTS` stream); a `.doc` is often an RTF, a web page or a .docx under another name. Each is given
to the reader that fits it; an encrypted document is refused with that reason.
"""

from __future__ import annotations

import io
import os
import re

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats import docx, html, pdf, sheets, slides, soffice, text
from rag.ingest.formats.attachments import Attachment, embedded_files
from rag.ingest.formats.base import Decode, Extracted, Reader, within_limit

SUFFIXES = (".doc", ".wps", ".rtf")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
XHTML = "html:XHTML Writer File:UTF8"
FIB_ENCRYPTED = 0x0100  # FIB flags (offset 10 of the WordDocument stream): fEncrypted


def _ole_kind(data: bytes, suffix: str) -> tuple[str, list[Attachment], int]:
    """The import suffix LibreOffice should see for an OLE compound file (`.doc` for a Word binary
    document, also what Kingsoft WPS writes as .wps; `.wps` for Microsoft Works), the files
    embedded in it and how many embedded objects are not files (`attachments.embedded_files`)."""
    import olefile

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception as exc:  # olefile raises OSError and its own parse errors on damaged files
        raise DocumentError(f"{suffix} 已损坏或无法读取 / damaged or unreadable {suffix} ({type(exc).__name__})") from exc
    with ole:
        if ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage"):
            raise DocumentError(f"{suffix} 已加密，无法读取 / encrypted {suffix}")
        if ole.exists("WordDocument"):
            fib = ole.openstream("WordDocument").read(12)
            if len(fib) == 12 and int.from_bytes(fib[10:12], "little") & FIB_ENCRYPTED:
                raise DocumentError(f"{suffix} 已加密，无法读取 / encrypted {suffix}")
            return (".doc", *embedded_files(ole))
        if ole.exists("CONTENTS"):
            return ".wps", [], 0  # Microsoft Works 4–9; LibreOffice reads it with libwps
        if ole.exists("Workbook") or ole.exists("PowerPoint Document"):
            raise DocumentError(f"{suffix} 实为表格或演示文稿，不是文字文档 / a spreadsheet or presentation, not a text document")
    raise DocumentError(f"不是 Word/WPS 文档（没有正文） / not a Word or WPS document (no text stream) {suffix}")


def _sniff(data: bytes) -> str:
    """What the bytes are: 'ole', 'rtf', 'zip', 'html' or '' (unknown)."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf\r\n\t ")
    if data.startswith(OLE_MAGIC):
        return "ole"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if re.match(rb"(?i)<(!doctype html|html|\?xml[^>]*>\s*<html)", head) or b"<html" in head.lower():
        return "html"
    return ""


_PARAGRAPH = re.compile(r"(?s)<p\b[^>]*?class=\"([^\"]*)\"[^>]*>(.*?)</p>|<p\b[^>]*/>")
TITLE_SCAN = 8  # paragraphs with text before the first heading, table or list that may hold the title


def _title_as_heading(xhtml: str) -> str:
    """The document's title as a level-1 heading: the first run of centred paragraphs of one style
    near the top, before any heading, table or list (`国家电网有限公司` + `…监督管理办法`, a title
    broken over lines), joined. Word marks a title by its look, not by a heading style, so without
    this the first section heading (`一、成果简介`) would become the title. A bracketed line after
    the title (`（朝阳供电公司）`) is not part of it."""
    centred = set(re.findall(r"\.([\w-]+)\s*\{[^}]*text-align:\s*center", xhtml))
    start = xhtml.find("<body")
    stop = re.compile(r"<(h[1-6]|table|ol|ul)\b").search(xhtml, start)
    end = stop.start() if stop else len(xhtml)
    run: list[re.Match[str]] = []
    seen = 0
    for m in _PARAGRAPH.finditer(xhtml, start, end):
        words = re.sub(r"<[^>]+>", "", m.group(2) or "").strip()
        if not words:
            if run:
                break
            continue
        seen += 1
        if run and (m.group(1) != run[0].group(1) or words.startswith(("（", "("))):
            break
        if m.group(1) in centred:
            run.append(m)
        elif run or seen >= TITLE_SCAN:
            break
    title = "".join(re.sub(r"<[^>]+>", "", m.group(2)).strip() for m in run)
    if not run or len(title) > 80:
        return xhtml
    return xhtml[: run[0].start()] + f"<h1>{title}</h1>" + xhtml[run[-1].end() :]


MAX_SPAN = 100  # a cell spans at most this many rows or columns (a hostile file could ask for millions)


def _cell_text(cell) -> str:
    return re.sub(r"\s+", " ", "".join(cell.itertext())).strip()


def _grid(table, tag) -> list[list[str]]:
    """A table's rows with merged cells laid out: a cell spanning rows is repeated in each (a label
    over several rows belongs to each), one spanning columns is followed by empty cells, so every
    cell stands under its own column's header."""
    rows: list[list[str]] = []
    below: dict[int, tuple[str, int]] = {}  # column → (text, rows it still covers)

    def fill(row: list[str], col: int) -> int:
        while col in below:
            text, left = below.pop(col)
            row.append(text)
            if left > 1:
                below[col] = (text, left - 1)
            col += 1
        return col

    for tr in table.iter(tag("tr")):
        row: list[str] = []
        col = 0
        for cell in (c for c in tr if c.tag in (tag("td"), tag("th"))):
            col = fill(row, col)
            text = _cell_text(cell)
            across = min(MAX_SPAN, max(1, int(cell.get("colspan", "1") or 1)))
            down = min(MAX_SPAN, max(1, int(cell.get("rowspan", "1") or 1)))
            row += [text] + [""] * (across - 1)
            if down > 1:
                for k in range(across):
                    below[col + k] = (text if k == 0 else "", down - 1)
            col += across
        fill(row, col)
        rows.append(row)
    return rows


def _regular_tables(xhtml: str) -> str:
    """Every table rewritten as a plain grid (`_grid`) for the page reader; a leading row of one
    cell across the table (its caption: `提报人：  联系方式：`) becomes a paragraph above it, so the
    row below is the header; a header over rows that are empty but for a number (a form to fill
    in) becomes one line of its column names. Nested tables are left as they are."""
    from lxml import etree

    try:
        root = etree.fromstring(xhtml.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    except etree.XMLSyntaxError:
        return xhtml
    ns = root.nsmap.get(None)

    def tag(name: str) -> str:
        return f"{{{ns}}}{name}" if ns else name

    for table in list(root.iter(tag("table"))):
        if table.find(".//" + tag("table")) is not None or table.getparent() is None:
            continue
        rows = _grid(table, tag)
        captions = []
        width = max(map(len, rows), default=0)
        while len(rows) > 1 and width > 1 and len(rows[0]) == width and rows[0][0] and not any(rows[0][1:]):
            captions.append(rows.pop(0)[0])  # one cell across the whole table
        plain = etree.Element(tag("table"))
        if len(rows) > 1 and all(sum(1 for c in row if c) <= 1 for row in rows[1:]):
            # a form to fill in (a header over numbered empty rows): its column names are its text
            plain = etree.Element(tag("p"))
            plain.text = "；".join(c for c in rows[0] if c)
            rows = []
        for row in rows:
            tr = etree.SubElement(plain, tag("tr"))
            for value in row:
                etree.SubElement(tr, tag("td")).text = value
        parent = table.getparent()
        at = parent.index(table)
        parent.remove(table)
        parent.insert(at, plain)
        for caption in reversed(captions):
            paragraph = etree.Element(tag("p"))
            paragraph.text = caption
            parent.insert(at, paragraph)
    return etree.tostring(root, encoding="unicode")


def xhtml_text(xhtml: str) -> str:
    """LibreOffice's XHTML as text: the title made a heading, the head (`- no title specified`,
    styles) dropped, the body read by the page reader (paragraphs, `#` headings, tables as rows)."""
    body = re.sub(r"(?is)<head\b.*?</head>", "", _regular_tables(_title_as_heading(xhtml)), count=1)
    return html.html_text(body)


def read(data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted:
    """A .doc/.wps/.rtf's text as Markdown (headings), read by what its bytes are."""
    kind = _sniff(data)
    if kind == "zip":  # a .docx under an old name
        return docx.read(data, ".docx", decode, limits)
    if kind == "html":  # Word and portals save web pages as .doc
        return html.read(data, ".html", decode, limits)
    attachments: list[Attachment] = []
    unread = 0
    if kind == "rtf":
        source = ".rtf"
    elif kind == "ole" and suffix != ".rtf":
        source, attachments, unread = _ole_kind(data, suffix)
    elif suffix == ".rtf":
        raise DocumentError("不是 RTF 文件（开头不是 {\\rtf） / not an RTF file")
    else:
        raise DocumentError(f"不是 Word/WPS 文档（无法识别的文件头） / not a Word or WPS document (unknown header) {suffix}")
    converted = soffice.convert(data, source, XHTML, max_bytes=limits.unpacked_bytes)
    body = within_limit(xhtml_text(converted.decode("utf-8", "replace")), limits)
    parts = [body.strip()] if body.strip() else []
    for attachment in attachments:
        try:
            parts.append(_attachment_text(attachment, decode, limits))
        except DocumentError:
            unread += 1  # an attachment that cannot be read does not cost the document
    if not any(parts) and unread:
        raise DocumentError(f"正文为空，{unread} 个嵌入附件无法读取 / the body is empty and its {unread} embedded attachments cannot be read")
    return Extracted(within_limit("\n\n".join(p for p in parts if p) + "\n", limits), is_markdown=True)


def _attachment_readers() -> dict[str, Reader]:
    readers: dict[str, Reader] = {s: m.read for m in (text, html, pdf, docx, sheets, slides) for s in m.SUFFIXES}
    return readers | dict.fromkeys(SUFFIXES, read)


def _attachment_text(attachment: Attachment, decode: Decode, limits: Limits) -> str:
    """An embedded file's text under a heading that names it (`## 附件：通知.pdf`); "" when it has
    none; DocumentError when its type is not read or it is damaged."""
    suffix = os.path.splitext(attachment.name)[1].lower()
    reader = _attachment_readers().get(suffix)
    if reader is None:
        raise DocumentError(f"unsupported attachment {suffix}")
    content = reader(attachment.data, suffix, decode, limits).text.strip()
    content = re.sub(r"(?m)^(#{1,4}) ", r"##\1 ", content)  # its headings nest under the attachment's
    return f"## 附件：{attachment.name}\n\n{content}" if content else ""
