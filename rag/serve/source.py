"""The web chat's source view: what a click on a citation's 查看原文 shows beside the answer.

The citation card carries `doc id|start|end` and the answer's bold span (escaped, in data
attributes); a small script puts it into a hidden textbox, whose event calls `source_view_html`.
The view is the document's text around the quote (HTML-escaped, the quote in `<mark>`, the
answer's span in it in `<strong>`), its title, section and metadata, and for PDFs and image files
the page rendered with the quote highlighted (a scan: the quoted part of each recognised line),
inline as a data: URI, with links to the neighbouring pages. `source_json` is the same for the API's `/source`. A refusal (unknown document, offsets
outside it, original moved or changed) is one polite line, never a traceback.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path, PurePosixPath

from rag.errors import RagError
from rag.ingest.govdoc import SHOWN_FIELDS
from rag.source_view import PageImage, SourceLibrary

log = logging.getLogger("rag.app")
CONTEXT_CHARS = 1500  # characters of the document shown on each side of the quote
EMPTY = '<div class="source-view empty">点击引用卡片上的“查看原文”，这里显示该引用在原文中的位置。</div>'
SORRY = '<div class="source-view problem">抱歉，暂时无法显示原文，请稍后再试。</div>'

# Put on the citations panel and on the source view (its page links), as gr.HTML js_on_load: one
# listener on each, so it keeps working when an answer replaces the cards. The request waits in
# `window` for the hidden button's event, whose `js` (REQUEST_SCRIPT) hands it to the server; a
# counter makes each click a new request.
OPEN_SCRIPT = """
let clicks = 0;
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.open-source');
  const open = document.querySelector('#source-open');
  if (!button || !open) return;
  clicks += 1;
  window.ragSourceRequest = [button.dataset.doc, button.dataset.start, button.dataset.end, button.dataset.extra || '', clicks].join('|');
  open.click();
});
"""
REQUEST_SCRIPT = "(request, ...rest) => [window.ragSourceRequest || '', ...rest]"  # rest: the event's other inputs (the knowledge base)

# After the view is filled: bring the highlighted quote into the middle of its scroll box.
SCROLL_SCRIPT = """
() => {
  const view = document.querySelector('#source-view .source-text');
  const mark = view && view.querySelector('mark');
  if (mark) view.scrollTop = Math.max(0, mark.offsetTop - view.offsetTop - view.clientHeight / 3);
}
"""


def _extra(span: tuple[int, int] | None = None, page: int | None = None) -> str:
    """The request's optional part: `span=A:B;page=N` (either or both, or "")."""
    items = ([f"span={span[0]}:{span[1]}"] if span is not None else []) + ([f"page={page}"] if page is not None else [])
    return ";".join(items)


def open_button(doc_id: str, start: int, end: int, span: tuple[int, int] | None = None) -> str:
    """The control on a citation card that opens its source view; `span`: the answer's bold span
    inside the quote (document offsets), shown in bold in the view too."""
    extra = _extra(span)
    return (
        f'<button type="button" class="open-source" data-doc="{escape(doc_id, quote=True)}" data-start="{start}" data-end="{end}"'
        f' data-extra="{escape(extra, quote=True)}">查看原文</button>'
    )


@dataclass(frozen=True)
class Request:
    doc_id: str
    start: int
    end: int
    span: tuple[int, int] | None = None  # the answer's bold span, document offsets
    page: int | None = None  # a PDF page other than the quote's (the neighbouring-page links)


def parse_full_request(request: str) -> Request | None:
    """`doc id|start|end[|extra][|counter]` → a Request; None when it is not one. The doc id may
    itself hold "|": the numbers are taken from the right; `extra` (`span=A:B;page=N`, or "") is told
    from a number by being empty or holding "="; a malformed extra is ignored, not refused."""
    parts = (request or "").split("|")
    if len(parts) >= 4:
        parts = parts[:-1]  # the click counter
    extra = ""
    if len(parts) >= 4 and (parts[-1] == "" or "=" in parts[-1]):
        extra, parts = parts[-1], parts[:-1]
    if len(parts) < 3:
        return None
    try:
        start, end = int(parts[-2]), int(parts[-1])
    except ValueError:
        return None
    span: tuple[int, int] | None = None
    page: int | None = None
    for item in extra.split(";"):
        key, _, value = item.partition("=")
        try:
            if key == "span":
                a, _, b = value.partition(":")
                span = (int(a), int(b))
            elif key == "page":
                page = int(value)
        except ValueError:
            continue
    return Request("|".join(parts[:-2]), start, end, span, page)


def parse_request(request: str) -> tuple[str, int, int] | None:
    """`doc id|start|end[|extra][|counter]` → (doc id, start, end); None when it is not one."""
    found = parse_full_request(request)
    return None if found is None else (found.doc_id, found.start, found.end)


def quote_html(quote: str, quote_start: int, span: tuple[int, int] | None) -> str:
    """The quote escaped in `<mark class="quote">`, the answer's span (document offsets; the quote
    begins at `quote_start`) in `<strong class="span">` when it lies inside the quote."""
    if span is not None:
        a, b = span[0] - quote_start, span[1] - quote_start
        if 0 <= a < b <= len(quote):
            inner = escape(quote[:a]) + f'<strong class="span">{escape(quote[a:b])}</strong>' + escape(quote[b:])
            return f'<mark class="quote">{inner}</mark>'
    return f'<mark class="quote">{escape(quote)}</mark>'


def page_links(wanted: Request, page: int, quote_page: int, pages: int) -> str:
    """上一页 / 下一页 (and back to the quote's page) for a PDF, bounded to its pages 1..pages."""
    links, seen = [], {page}
    for label, number in (("上一页", page - 1), ("下一页", page + 1), (f"回到引文所在页（第 {quote_page} 页）", quote_page)):
        if 1 <= number <= pages and number not in seen:
            seen.add(number)
            extra = _extra(wanted.span, None if number == quote_page else number)
            links.append(
                f'<button type="button" class="open-source page-nav" data-doc="{escape(wanted.doc_id, quote=True)}" data-start="{wanted.start}"'
                f' data-end="{wanted.end}" data-extra="{escape(extra, quote=True)}" data-page="{number}">{escape(label)}</button>'
            )
    where = f"第 {page} / {pages} 页" if 1 <= page <= pages else f"共 {pages} 页"
    return f'<div class="page-nav">{where} {"".join(links)}</div>'


SCAN_NOTE = '<div class="highlight-note">这一页是扫描件，没有文字层，无法在图上标出引文位置（引文见上方文字）。</div>'
NOT_FOUND_NOTE = '<div class="highlight-note">未能在页面上找到引文的字符，图上没有标出（引文见上方文字）。</div>'
OCR_NOTE = '<div class="highlight-note">扫描件：按识别出的文字行标出引文，行内位置按字数比例估计。</div>'


def highlight_note(page: PageImage) -> str:
    """One line about the quote's page: on a scan, that the highlight follows the recognised lines
    (or that it cannot be drawn, for a scan indexed before its lines' boxes were kept); the quote's
    characters not found on the page; "" when a text layer's characters are highlighted."""
    if page.pixel_boxes:
        return OCR_NOTE if page.ocr else ""
    return SCAN_NOTE if not page.has_text and not page.ocr else NOT_FOUND_NOTE


def page_image_html(page: PageImage) -> str:
    """The page as an inline PNG; `data-boxes`: the highlighted boxes in the image's pixels ([left,
    top, right, bottom], origin top left: one per character from a text layer, one per line part on
    a scan), `data-scale`: pixels per PDF point (an image file: per pixel of the file)."""
    data = base64.b64encode(page.png).decode("ascii")
    boxes = json.dumps([[round(v, 2) for v in box] for box in page.pixel_boxes], separators=(",", ":"))
    return (
        f'<img class="page-image" alt="第 {page.page} 页" src="data:image/png;base64,{data}" width="{page.width}" height="{page.height}"'
        f' data-scale="{page.scale:.6f}" data-boxes="{escape(boxes, quote=True)}">'
    )


ORIGINALS_MAX_AGE_S = 3600  # a download copy of an original is deleted an hour after it was last offered
ORIGINALS_MAX_KEPT = 16  # and at most this many are kept (the one offered now among them)
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def download_name(doc_id: str) -> str:
    """The name the original is offered under: the document's own base name, without path parts,
    control characters or characters a file system refuses, and not hidden; "original" if nothing
    is left."""
    name = _UNSAFE_NAME.sub("_", PurePosixPath(doc_id.replace("\\", "/")).name).strip().lstrip(".").strip()
    return name[:120] or "original"


def original_file(open_library: Callable[[], SourceLibrary], request: str, folder: Path | None = None) -> Path | None:
    """The original of the requested document written to a fresh file under `folder` (the system's
    temp directory by default, where Gradio serves downloads from), named by `download_name`; None
    when there is no original to offer (unknown or traversing id, original moved or changed). The
    bytes come only from `SourceLibrary.original`: the index's own recorded places, sha256 checked."""
    wanted = parse_full_request(request)
    if wanted is None:
        return None
    try:
        with open_library() as library:
            data = library.original(wanted.doc_id)
            digest = library.document(wanted.doc_id).content_hash
    except RagError:
        return None
    except Exception:
        log.exception("original download failed for %r", request)
        return None
    root = folder or Path(tempfile.gettempdir()) / "rag-originals"
    where = root / re.sub(r"[^0-9A-Za-z]", "", digest)[:32]
    where.mkdir(parents=True, exist_ok=True)
    os.utime(where)  # offered now: the last to go
    path = where / download_name(wanted.doc_id)
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)
    prune_originals(root, keep=where)
    return path


def prune_originals(root: Path, keep: Path, max_age_s: float = ORIGINALS_MAX_AGE_S, max_kept: int = ORIGINALS_MAX_KEPT) -> None:
    """Delete the download copies under `root` offered more than `max_age_s` ago, and all but the
    `max_kept` most recent (Gradio has copied a file it serves into its own cache by then), never
    `keep`. A copy another request removes first, or cannot remove, is left alone."""
    try:
        folders = sorted((p for p in root.iterdir() if p.is_dir() and p != keep), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    now = time.time()
    for rank, folder in enumerate(folders, 1):
        try:
            if rank >= max_kept or now - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder)
        except OSError:
            continue


def problem_html(message: str) -> str:
    """One polite line: the Chinese half of a library refusal."""
    return f'<div class="source-view problem">{escape(message.split(" / ")[0])}</div>'


def source_view_html(open_library: Callable[[], SourceLibrary], request: str) -> str:
    """The source view for a `doc id|start|end` request, or one line saying why there is none."""
    wanted = parse_full_request(request)
    if wanted is None:
        return EMPTY
    doc_id, start, end = wanted.doc_id, wanted.start, wanted.end
    try:
        with open_library() as library:
            shown = library.excerpt(doc_id, start, end, CONTEXT_CHARS)
            total = len(library.document(doc_id).text)
            image = ""
            if shown.page is not None:
                pages = len(library.document(doc_id).page_starts)
                shown_page = shown.page if wanted.page is None else wanted.page
                try:
                    if shown_page == shown.page:
                        page = library.page_image(doc_id, start, end)
                        image = highlight_note(page)
                    else:  # a neighbouring page: no highlight
                        page = library.plain_page_image(doc_id, shown_page)
                    image += page_image_html(page)
                except RagError as exc:  # not a PDF, moved, changed, damaged: the text still shows
                    image = problem_html(f"无法显示页面图像：{exc}")
                image = page_links(wanted, shown_page, shown.page, pages) + image
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
    marked = quote_html(text[a:b], shown.start, wanted.span)
    parts.append(f'<div class="source-text">{escape(before)}{marked}{escape(after)}</div>')
    parts.append(image)
    parts.append("</div>")
    return "".join(parts)


def source_json(open_library: Callable[[], SourceLibrary], doc_id: str, start: int, end: int, page: int | None = None) -> dict:
    """The API's `/source`: for (document, start, end) the title, metadata, page, heading path, the
    text around the quote with the quote's offsets inside it, and for PDFs and image files the page
    as a PNG (base64) with the quote highlighted (`page`: another page, unhighlighted); `boxes`: the
    highlight in the image's pixels, `ocr`: whether they are parts of recognised lines. A refusal
    is `{"error": message}` with the other fields empty; `image_error` says why a page has no image."""
    reply: dict = {"doc": doc_id, "start": start, "end": end, "error": None}
    try:
        with open_library() as library:
            shown = library.excerpt(doc_id, int(start), int(end), CONTEXT_CHARS)
            reply.update(
                title=shown.title,
                metadata=dict(shown.metadata),
                page=shown.page,
                pages=len(library.document(doc_id).page_starts) or None,
                heading_path=list(shown.heading_path),
                text=shown.text,
                text_start=shown.text_start,
                quote_start=shown.quote_start,
                quote_end=shown.quote_end,
                quote=shown.quote,
                png_base64=None,
                image_page=None,
                image_error=None,
            )
            if shown.page is not None:
                try:
                    image = library.page_image(doc_id, shown.start, shown.end) if page in (None, shown.page) else library.plain_page_image(doc_id, int(page))
                    reply.update(
                        png_base64=base64.b64encode(image.png).decode("ascii"),
                        image_page=image.page,
                        width=image.width,
                        height=image.height,
                        boxes=[[round(v, 2) for v in box] for box in image.pixel_boxes],
                        ocr=image.ocr,
                    )
                except RagError as exc:
                    reply["image_error"] = str(exc)
    except RagError as exc:
        return {"doc": doc_id, "start": start, "end": end, "error": str(exc)}
    except Exception:
        log.exception("source API failed for %r %r %r", doc_id, start, end)
        return {"doc": doc_id, "start": start, "end": end, "error": "服务器出错，已记录在日志中 / server error, logged"}
    return reply


CSS = """
#source-view .source-view { border: 1px solid #ddd; border-radius: 8px; padding: 10px; }
#source-view .title { font-weight: 600; }
#source-view .heading, #source-view .meta, #source-view .source { color: #666; font-size: 0.9em; }
#source-view .source-text { white-space: pre-wrap; max-height: 420px; overflow-y: auto; margin-top: 6px; line-height: 1.7; }
#source-view mark.quote { background: #ffe58f; }
#source-view mark.quote strong.span { font-weight: 700; }
#source-view .page-image { max-width: 100%; height: auto; border: 1px solid #ddd; margin-top: 8px; }
#source-view .problem { color: #a8071a; }
#source-download { max-width: 12em; }
#source-view .highlight-note { color: #8c6d1f; font-size: 0.9em; margin-top: 6px; }
#source-view .page-nav { margin-top: 8px; color: #666; font-size: 0.9em; }
#source-view button.page-nav { margin-left: 6px; padding: 2px 10px; border: 1px solid #bbb; border-radius: 6px; cursor: pointer; }
.citations button.open-source { margin-top: 6px; font-size: 0.9em; padding: 2px 10px; border: 1px solid #bbb; border-radius: 6px; cursor: pointer; }
"""
