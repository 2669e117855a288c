"""OFD (GB/T 33190), the national fixed-layout format: text of each page, in reading order.

An OFD is a ZIP package of XML parts: `OFD.xml` names each document's `Document.xml`, which lists
its pages, page templates and annotations. The text is in `TextObject/TextCode` elements, each
character placed by the code's X/Y, its DeltaX/DeltaY (`g 3 5.6` is 5.6 three times) and the
object's Boundary (origin) and CTM (transform). This reader places every character on the page,
from the page's templates, its content (nested blocks too) and its annotations, and hands the runs
to `page_layout` to rebuild reading order, lines and paragraphs. Signatures and seals (`Signs/`,
stamp annotations) and watermarks are not read, so a broken or unusual signature never stops a file.

lxml parses the parts (ofdkit 0.2, the maintained pip reader, measured on the five real files,
gives lines but no paragraphs and mixes the columns of a magazine page; docs/benchmarks.md). The
archive limits are those of `.docx`: the directory is checked before anything is unpacked, and every
part parsed counts towards `limits.xml_bytes`, whatever its name.
"""

from __future__ import annotations

import math
import posixpath
import re
import unicodedata
import zipfile
from typing import Any

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats.archive import MB, check_archive, damaged, parse_xml
from rag.ingest.formats.base import Decode, Extracted, too_much_text
from rag.ingest.formats.page_layout import Paragraph, Run, page_paragraphs

SUFFIXES = (".ofd",)
SKIPPED_ANNOTATIONS = {"stamp", "watermark"}  # seals and watermarks are not the document's text
# a red-header document's number alone on its line (`路卫发〔2011〕76号`): labelled so that the header
# logic (govdoc) reads it into the citation's 文号
_DOCUMENT_NUMBER = re.compile(r"^[\u4e00-\u9fff]{1,15}[〔\[［(（]\d{4}[〕\]］)）]\d{1,5}号(?=\s|$)")
_HEADER_PARAGRAPHS = 8

Element = Any  # an lxml element


def _floats(value: str | None) -> list[float]:
    """Numbers of an attribute, with OFD's `g N v` (v repeated N times) expanded; bad tokens skipped."""
    tokens, out = (value or "").split(), []
    i = 0
    while i < len(tokens):
        if tokens[i] == "g" and i + 2 < len(tokens):
            try:
                out.extend([float(tokens[i + 2])] * min(int(tokens[i + 1]), 100_000))
            except ValueError:
                pass
            i += 3
            continue
        try:
            out.append(float(tokens[i]))
        except ValueError:
            pass
        i += 1
    return out


def _local(element: Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if _local(c) == name), None)


def _content(page: Element) -> list[Element]:
    content = _child(page, "Content")
    return [] if content is None else [content]


class _Package:
    """The archive's parts by path; each part parsed once, all parsed parts within the XML limit."""

    def __init__(self, archive: zipfile.ZipFile, limits: Limits):
        self.archive, self.limits, self.parsed_bytes = archive, limits, 0
        self.names = {info.filename.lower(): info for info in archive.infolist()}
        self.cache: dict[str, Element] = {}

    @staticmethod
    def resolve(base: str, location: str) -> str:
        """A part's path from a reference in the part at `base` (absolute `/Doc_0/…` or relative)."""
        location = location.strip().replace("\\", "/")
        path = location.lstrip("/") if location.startswith("/") else posixpath.join(posixpath.dirname(base), location)
        return posixpath.normpath(path).lstrip("/")

    def optional(self, path: str) -> Element | None:
        """A part that may be missing without harm (annotations): None when it is."""
        return self.part(path) if path.lower() in self.names else None

    def part(self, path: str) -> Element:
        if path in self.cache:
            return self.cache[path]
        info = self.names.get(path.lower())
        if info is None:
            raise DocumentError(f"OFD 缺少部件 {path} / the OFD lacks its part {path}")
        self.parsed_bytes += info.file_size
        if self.parsed_bytes > self.limits.xml_bytes:
            raise DocumentError(f"文档内容解压后过大：XML 超过 {self.limits.xml_bytes / MB:,.0f} MB（疑似压缩炸弹） / its XML unpacks past the limit")
        try:
            root = parse_xml(self.archive.read(info))
        except Exception as exc:  # lxml's syntax errors, zlib's errors, a bad CRC
            raise DocumentError(f"OFD 部件 {path} 已损坏 / damaged part {path} ({type(exc).__name__})") from exc
        self.cache[path] = root
        return root


def _advance(char: str, size: float) -> float:
    return size if unicodedata.east_asian_width(char) in "WF" else 0.5 * size


Matrix = tuple[float, float, float, float, float, float]  # x' = a·x + c·y + e, y' = b·x + d·y + f
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _compose(outer: Matrix, inner: Matrix) -> Matrix:
    """The matrix applying `inner`, then `outer`."""
    a, b, c, d, e, f = outer
    p, q, r, s, t, u = inner
    return (a * p + c * q, b * p + d * q, a * r + c * s, b * r + d * s, a * t + c * u + e, b * t + d * u + f)


def _placement(obj: Element, outer: Matrix) -> Matrix:
    """Where an object's own coordinates land on the page: its CTM, then its Boundary's origin."""
    box, ctm = _floats(obj.get("Boundary")), _floats(obj.get("CTM"))
    origin: Matrix = (1.0, 0.0, 0.0, 1.0, box[0], box[1]) if len(box) >= 2 else IDENTITY
    own: Matrix = (ctm[0], ctm[1], ctm[2], ctm[3], ctm[4], ctm[5]) if len(ctm) == 6 else IDENTITY
    return _compose(outer, _compose(origin, own))


def _text_runs(obj: Element, outer: Matrix) -> list[Run]:
    """Runs of one TextObject: each character placed, then cut where the baseline changes or the
    pen jumps (one TextCode may hold several lines, as an invoice's 密码区 does)."""
    a, b, c, d, e, f = _placement(obj, outer)
    scale = math.sqrt(abs(a * d - b * c)) or 1.0
    font = _floats(obj.get("Size"))
    own_size = font[0] if font else 3.5
    size = own_size * scale
    runs: list[Run] = []
    pen_x = pen_y = 0.0
    for code in obj:
        # an unexpanded entity reference is a child node: the text around it is kept, it is not
        text = (code.text or "") + "".join(child.tail or "" for child in code) if _local(code) == "TextCode" else ""
        if not text:
            continue
        xs, ys = _floats(code.get("X")), _floats(code.get("Y"))
        pen_x, pen_y = (xs[0] if xs else pen_x), (ys[0] if ys else pen_y)
        dx, dy = _floats(code.get("DeltaX")), _floats(code.get("DeltaY"))
        chars, x0 = "", 0.0
        last: tuple[float, float] | None = None
        for i, char in enumerate(text):
            x, y = a * pen_x + c * pen_y + e, b * pen_x + d * pen_y + f
            if last is not None and (abs(y - last[1]) > size / 3 or x < last[0] - 0.1 * size or x - last[0] > 2.5 * size):
                runs.append(Run(chars, x0, last[0] + _advance(chars[-1], size), last[1], size))
                chars = ""
            if not chars:
                x0 = x
            chars += char
            last = (x, y)
            pen_x += dx[i] if i < len(dx) else _advance(char, own_size)
            pen_y += dy[i] if i < len(dy) else 0.0
        if chars and last is not None:
            runs.append(Run(chars, x0, last[0] + _advance(chars[-1], size), last[1], size))
    return runs


def _object_runs(container: Element | list[Element], outer: Matrix, units: _Units, depth: int = 0) -> list[Run]:
    """Runs of the text objects in a layer, page block, composite unit or annotation appearance."""
    runs: list[Run] = []
    for obj in container:
        name = _local(obj)
        if name == "TextObject":
            runs.extend(_text_runs(obj, outer))
        elif name in ("Layer", "PageBlock", "Content"):
            runs.extend(_object_runs(obj, outer, units, depth))
        elif name == "CompositeObject" and depth < 8:
            unit = units.get(obj.get("ResourceID", ""))
            if unit is not None:
                runs.extend(_object_runs(_content(unit), _placement(obj, outer), units, depth + 1))
    return runs


class _Units:
    """A document's composite graphic units (text drawn once, placed by CompositeObjects), read
    from its resource parts the first time one is needed."""

    def __init__(self, package: _Package, parts: list[str]):
        self.package, self.parts = package, parts
        self.by_id: dict[str, Element] | None = None

    def get(self, unit_id: str) -> Element | None:
        if self.by_id is None:
            self.by_id = {}
            for path in self.parts:
                res = self.package.optional(path)
                for group in res if res is not None else []:
                    if _local(group) == "CompositeGraphicUnits":
                        self.by_id.update((u.get("ID", ""), u) for u in group if _local(u) == "CompositeGraphicUnit")
        return self.by_id.get(unit_id)


def _page_runs(package: _Package, page_path: str, templates: dict[str, str], annotations: list[str], units: _Units) -> list[Run]:
    page = package.part(page_path)
    runs: list[Run] = []
    for use in (c for c in page if _local(c) == "Template"):
        template = templates.get(use.get("TemplateID", ""))
        if template:
            runs.extend(_object_runs(_content(package.part(template)), IDENTITY, units))
    runs.extend(_object_runs(_content(page), IDENTITY, units))
    for path in annotations:
        part = package.optional(path)
        for annot in part if part is not None else []:
            if _local(annot) != "Annot" or annot.get("Type", "").lower() in SKIPPED_ANNOTATIONS:
                continue
            for appearance in (c for c in annot if _local(c) == "Appearance"):
                runs.extend(_object_runs(appearance, _placement(appearance, IDENTITY), units))
    return runs


def _annotation_parts(package: _Package, document_path: str, document: Element) -> dict[str, list[str]]:
    """Page ID → the annotation parts drawn on it."""
    listing = _child(document, "Annotations")
    if listing is None or not (listing.text or "").strip():
        return {}
    listing_path = package.resolve(document_path, listing.text)
    listing_part = package.optional(listing_path)
    parts: dict[str, list[str]] = {}
    for page in listing_part if listing_part is not None else []:
        location = _child(page, "FileLoc")
        if _local(page) == "Page" and location is not None and (location.text or "").strip():
            parts.setdefault(page.get("PageID", ""), []).append(package.resolve(listing_path, location.text))
    return parts


def _document_pages(package: _Package, document_path: str) -> list[list[Paragraph]]:
    document = package.part(document_path)
    common = _child(document, "CommonData")
    templates = {
        t.get("ID", ""): package.resolve(document_path, t.get("BaseLoc", ""))
        for t in (common if common is not None else [])
        if _local(t) == "TemplatePage" and t.get("BaseLoc")
    }
    annotations = _annotation_parts(package, document_path, document)
    resources = [
        package.resolve(document_path, r.text)
        for r in (common if common is not None else [])
        if _local(r) in ("PublicRes", "DocumentRes") and (r.text or "").strip()
    ]
    units = _Units(package, resources)
    pages_element = _child(document, "Pages")
    pages = []
    for page in pages_element if pages_element is not None else []:
        if _local(page) == "Page" and page.get("BaseLoc"):
            path = package.resolve(document_path, page.get("BaseLoc", ""))
            pages.append(page_paragraphs(_page_runs(package, path, templates, annotations.get(page.get("ID", ""), []), units)))
    return pages


def _label_document_number(pages: list[list[Paragraph]]) -> None:
    first = pages[0] if pages else []
    for i, paragraph in enumerate(first[:_HEADER_PARAGRAPHS]):
        if _DOCUMENT_NUMBER.match(paragraph.text):
            first[i] = Paragraph("文号：" + paragraph.text, paragraph.runs_on)
            return


def ofd_text(data: bytes, limits: Limits = Limits()) -> Extracted:
    archive = check_archive(data, limits, ".ofd")
    package = _Package(archive, limits)
    try:
        root = package.part("OFD.xml")
        bodies = [b for b in root if _local(b) == "DocBody"]
        roots = [_child(b, "DocRoot") for b in bodies]
        pages = [p for r in roots if r is not None and (r.text or "").strip() for p in _document_pages(package, package.resolve("OFD.xml", r.text))]
    except DocumentError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, IndexError) as exc:
        raise damaged(".ofd", exc) from exc
    if not pages:
        raise DocumentError("OFD 中没有页面 / the OFD has no pages")
    _label_document_number(pages)
    text, starts, runs_on = "", [], False
    for paragraphs in pages:
        body = "\n\n".join(p.text for p in paragraphs)
        if runs_on and body:
            text = text.removesuffix("\n\n")  # a paragraph goes on from the page before: its sentence stays whole
        starts.append(len(text))
        text += body + "\n\n" if body else ""
        runs_on = bool(paragraphs) and paragraphs[-1].runs_on
        if len(text) > limits.text_chars:
            raise too_much_text(limits)
    return Extracted(text, tuple(starts))


def read(data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted:
    """An OFD's text, page by page, once its header says it is a ZIP package."""
    if not data.startswith(b"PK"):
        raise DocumentError("不是 OFD 文件（不是 ZIP 压缩包） / not an OFD file (not a ZIP archive)")
    return ofd_text(data, limits)
