"""The web chat's source view: what a click on a citation's 查看原文 shows beside the answer.

The citation card carries `doc id|start|end` (escaped, in data attributes); a small script puts it
into a hidden textbox, whose event calls `source_view_html`. The view is the document's text around
the quote (HTML-escaped, the quote in `<mark>`), its title, section and metadata, and for PDFs the
page rendered with the quoted characters highlighted, inline as a data: URI. A refusal (unknown
document, offsets outside it, original moved or changed) is one polite line, never a traceback.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from html import escape

from rag.errors import RagError
from rag.ingest.govdoc import SHOWN_FIELDS
from rag.source_view import SourceLibrary

log = logging.getLogger("rag.app")
CONTEXT_CHARS = 1500  # characters of the document shown on each side of the quote
EMPTY = '<div class="source-view empty">点击引用卡片上的“查看原文”，这里显示该引用在原文中的位置。</div>'
SORRY = '<div class="source-view problem">抱歉，暂时无法显示原文，请稍后再试。</div>'

# Put on the citations panel (gr.HTML js_on_load): one listener on the panel, so it keeps working
# when an answer replaces the cards. The request waits in `window` for the hidden button's event,
# whose `js` (REQUEST_SCRIPT) hands it to the server; a counter makes each click a new request.
OPEN_SCRIPT = """
let clicks = 0;
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.open-source');
  const open = document.querySelector('#source-open');
  if (!button || !open) return;
  clicks += 1;
  window.ragSourceRequest = [button.dataset.doc, button.dataset.start, button.dataset.end, clicks].join('|');
  open.click();
});
"""
REQUEST_SCRIPT = "(request) => [window.ragSourceRequest || '']"

# After the view is filled: bring the highlighted quote into the middle of its scroll box.
SCROLL_SCRIPT = """
() => {
  const view = document.querySelector('#source-view .source-text');
  const mark = view && view.querySelector('mark');
  if (mark) view.scrollTop = Math.max(0, mark.offsetTop - view.offsetTop - view.clientHeight / 3);
}
"""


def open_button(doc_id: str, start: int, end: int) -> str:
    """The control on a citation card that opens its source view."""
    return f'<button type="button" class="open-source" data-doc="{escape(doc_id, quote=True)}" data-start="{start}" data-end="{end}">查看原文</button>'


def parse_request(request: str) -> tuple[str, int, int] | None:
    """`doc id|start|end[|counter]` → (doc id, start, end); None when it is not one. The doc id may
    itself hold "|": the numbers are taken from the right."""
    parts = (request or "").split("|")
    if len(parts) >= 4:
        parts = parts[:-1]  # the click counter
    if len(parts) < 3:
        return None
    try:
        start, end = int(parts[-2]), int(parts[-1])
    except ValueError:
        return None
    return "|".join(parts[:-2]), start, end


def problem_html(message: str) -> str:
    """One polite line: the Chinese half of a library refusal."""
    return f'<div class="source-view problem">{escape(message.split(" / ")[0])}</div>'


def source_view_html(open_library: Callable[[], SourceLibrary], request: str) -> str:
    """The source view for a `doc id|start|end` request, or one line saying why there is none."""
    wanted = parse_request(request)
    if wanted is None:
        return EMPTY
    doc_id, start, end = wanted
    try:
        with open_library() as library:
            shown = library.excerpt(doc_id, start, end, CONTEXT_CHARS)
            total = len(library.document(doc_id).text)
            image = ""
            if shown.page is not None:
                try:
                    page = library.page_image(doc_id, start, end)
                    data = base64.b64encode(page.png).decode("ascii")
                    image = f'<img class="page-image" alt="第 {page.page} 页" src="data:image/png;base64,{data}" width="{page.width}" height="{page.height}">'
                except RagError as exc:  # not a PDF, moved, changed, damaged: the text still shows
                    image = problem_html(f"无法显示页面图像：{exc}")
    except RagError as exc:  # unknown document, offsets outside it, no index
        return problem_html(str(exc))
    except Exception:  # never a stack trace in the page; the log keeps it
        log.exception("source view failed for %r", request)
        return SORRY
    parts = ['<div class="source-view">', f'<div class="title">{escape(shown.title)}</div>']
    meta = [(k, v) for k, v in shown.metadata if k in SHOWN_FIELDS]
    if meta:
        parts.append('<div class="meta">' + " · ".join(f"{escape(k)}：{escape(v)}" for k, v in meta) + "</div>")
    where = [escape(shown.doc_id)] + ([f"第 {shown.page} 页"] if shown.page is not None else []) + [f"字符 {shown.start}–{shown.end}"]
    if shown.heading_path:
        parts.append(f'<div class="heading">{escape(shown.heading)}</div>')
    parts.append(f'<div class="source">{" · ".join(where)}</div>')
    text, a, b = shown.text, shown.quote_start, shown.quote_end
    before = ("…" if shown.text_start > 0 else "") + text[:a]
    after = text[b:] + ("…" if shown.text_start + len(text) < total else "")
    parts.append(f'<div class="source-text">{escape(before)}<mark class="quote">{escape(text[a:b])}</mark>{escape(after)}</div>')
    parts.append(image)
    parts.append("</div>")
    return "".join(parts)


CSS = """
#source-view .source-view { border: 1px solid #ddd; border-radius: 8px; padding: 10px; }
#source-view .title { font-weight: 600; }
#source-view .heading, #source-view .meta, #source-view .source { color: #666; font-size: 0.9em; }
#source-view .source-text { white-space: pre-wrap; max-height: 420px; overflow-y: auto; margin-top: 6px; line-height: 1.7; }
#source-view mark.quote { background: #ffe58f; }
#source-view .page-image { max-width: 100%; height: auto; border: 1px solid #ddd; margin-top: 8px; }
#source-view .problem { color: #a8071a; }
.citations button.open-source { margin-top: 6px; font-size: 0.9em; padding: 2px 10px; border: 1px solid #bbb; border-radius: 6px; cursor: pointer; }
"""
