"""Main text of a saved web page, without the portal's furniture.

Government portals wrap a document in navigation bars, breadcrumbs, share bars, QR codes (扫一扫),
related-link lists, side columns of hot news and footers, mostly in `div`s known only by their
class names. readability-lxml (the Python port of Arc90/Mozilla Readability, maintained) picks the
page's main content block; html_text (formats.py) turns it into lines. Readability drops the
page's title and its information table (索引号, 文号, 发布机构 …), which citations show, so those
lines are taken from the whole page and put above the main text.

`bench/html_main_text.py` measures it on portal-like pages built from real documents: furniture in
the indexed text 7.2 % → 0.6 %, the document's own text kept 100 % → 99.8 % (docs/benchmarks.md).
When readability finds less than a plausible main text, the whole page is used, as before.
"""

from __future__ import annotations

import logging
import re

from rag.ingest.formats import html_text
from rag.ingest.govdoc import header_fields

MIN_MAIN_CHARS = 300  # a main text this long is trusted; a shorter one must hold 30 % of the page
MIN_MAIN_SHARE = 0.3


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
