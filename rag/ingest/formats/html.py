"""Saved web pages: their main text, without the portal's furniture.

Government portals wrap a document in navigation bars, breadcrumbs, share bars, QR codes (扫一扫),
related-link lists, side columns of hot news and footers, mostly in `div`s known only by their
class names. readability-lxml (the Python port of Arc90/Mozilla Readability, maintained) picks the
page's main content block; `html_text` turns it into lines (block elements end lines, tables keep
their headers, headings become Markdown headings). Readability drops the page's title and its
information table (索引号, 文号, 发布机构 …), which citations show, so those lines are taken from
the whole page and put above the main text.

`bench/html_main_text.py` measures it on portal-like pages built from real documents: furniture in
the indexed text 7.2 % → 0.6 %, the document's own text kept 100 % → 99.8 % (docs/benchmarks.md).
When readability finds less than a plausible main text, the whole page is used, as before.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

from rag.config import Limits
from rag.ingest.encoding import decode_markup
from rag.ingest.formats.base import Decode, Extracted, table_rows_as_text, within_limit
from rag.ingest.govdoc import header_fields

SUFFIXES = (".html", ".htm")

MIN_MAIN_CHARS = 300  # a main text this long is trusted; a shorter one must hold 30 % of the page
MIN_MAIN_SHARE = 0.3


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
    """The whole page's text, one paragraph per block element (no main-text selection)."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in "".join(parser.parts).splitlines()]
    text = "\n\n".join(ln for ln in lines if ln)
    return text + "\n" if text else ""


def _size(text: str) -> int:
    return len(re.sub(r"\s+", "", text))


def page_text(html: str) -> str:
    """Title line, header-field lines and main text of a page, as lines of text (Markdown headings)."""
    full = html_text(html)
    try:
        from readability import Document as Readable

        logging.getLogger("readability").setLevel(logging.WARNING)
        summary = Readable(html).summary(html_partial=True)
    except Exception:  # readability gives up on odd markup: the whole page, as before
        return full
    main = html_text(summary)
    if _size(main) < min(MIN_MAIN_CHARS, MIN_MAIN_SHARE * _size(full)):
        return full
    in_main = {ln.strip() for ln in main.splitlines()}
    lines = [ln.strip() for ln in full.splitlines() if ln.strip()]
    heading = next((ln for ln in lines if ln.startswith("# ")), None)
    title = [heading or lines[0]] if lines else []
    fields = [ln for ln in lines if header_fields(ln)]
    head = [ln for ln in dict.fromkeys(title + fields) if ln not in in_main]
    return "\n\n".join([*head, main.strip()]) + "\n"


def read(data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted:
    """A page's main text; the bytes are decoded by the page's own charset (not `decode`), and the
    limit applies to the page before its furniture is dropped."""
    return Extracted(page_text(within_limit(decode_markup(data), limits)), is_markdown=True)
