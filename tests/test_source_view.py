"""See the source (issue 35, first slice): the excerpt around a cited span, a PDF page rendered with
exactly the quoted characters highlighted, refusals of unknown ids, path traversal and bad offsets,
and `rag show` on the command line. A small knowledge base built with the fake embedder."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from support.pdf_boxes import assert_boxes_match, expected_pixel_boxes

from rag.config import Settings
from rag.indexing.build import build_index
from rag.source_view import OriginalUnavailableError, SourceLibrary, SpanError, UnknownDocumentError, excerpt

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "第二页写明：企业可在三十日内申请稳岗返还。"
NOTE = (
    "关于稳岗返还的说明\n\n一、申请条件\n\n参保企业上年度未裁员或裁员率低于规定标准的，可以申请稳岗返还。\n\n二、办理时限\n\n人社部门在十个工作日内完成审核。\n"
)


def make_pdf(pages: list[list[str]]) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for lines in pages:
        c.setFont("STSong-Light", 12)
        for i, line in enumerate(lines):
            c.drawString(60, 760 - 18 * i, line)
        c.showPage()
    c.save()
    return buf.getvalue()


def build_kb(tmp_path: Path, embedder, settings: Settings) -> Settings:
    """note.txt and the two-page policy.pdf under tmp_path/docs, indexed into `settings`' store."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text(NOTE, encoding="utf-8")
    pages = [["稳岗返还政策问答", "第一页只有目录：申请条件、办理时限。"], ["二、办理时限", "企业可在三十日内申请稳岗返还。", SENTENCE, "逾期不予受理。"]]
    (docs / "policy.pdf").write_bytes(make_pdf(pages))
    report = build_index([docs], settings, embedder)
    assert report.ok, report.summary()
    return settings


@pytest.fixture
def kb(tmp_path, fake_embedder):
    settings = build_kb(tmp_path, fake_embedder, replace(Settings.from_env(), index_dir=tmp_path / "index", store="files"))
    with SourceLibrary.open(settings) as library:
        yield library


def test_excerpt_holds_the_quote_at_its_offsets(kb):
    document = kb.document("note.txt")
    start = document.text.index("人社部门")
    end = document.text.index("。", start) + 1
    shown = kb.excerpt("note.txt", start, end, context_chars=10)
    assert shown.quote == document.text[start:end] == "人社部门在十个工作日内完成审核。"
    assert shown.text == document.text[start - 10 : min(len(document.text), end + 10)]
    assert shown.text[shown.quote_start : shown.quote_end] == shown.quote and shown.text_start == start - 10
    assert "【人社部门在十个工作日内完成审核。】" in shown.marked()
    assert shown.page is None and shown.title == "关于稳岗返还的说明"
    assert shown.heading_path and shown.heading_path[-1] == "二、办理时限"


def test_excerpt_of_a_pdf_names_its_page(kb):
    document = kb.document("policy.pdf")
    start = document.text.index(SENTENCE)
    shown = kb.excerpt("policy.pdf", start, start + len(SENTENCE))
    assert shown.page == 2 and shown.quote == SENTENCE


def test_pdf_page_highlights_exactly_the_quoted_characters(kb):
    import pypdfium2

    document = kb.document("policy.pdf")
    start = document.text.index(SENTENCE)
    image = kb.page_image("policy.pdf", start, start + len(SENTENCE))
    assert image.page == 2 and image.png.startswith(b"\x89PNG")
    # PDFium's own character boxes of the sentence on page 2 (the sentence's one occurrence there;
    # the line above holds its tail "企业可在三十日内申请稳岗返还。" too, which must not be picked)
    pdf = pypdfium2.PdfDocument(kb.original("policy.pdf"))
    textpage = pdf[1].get_textpage()
    text = textpage.get_text_range()
    assert text.count(SENTENCE) == 1
    first = text.index(SENTENCE)
    expected = tuple(tuple(textpage.get_charbox(i, loose=True)) for i in range(first, first + len(SENTENCE)))
    assert image.char_indices == tuple(range(first, first + len(SENTENCE)))
    assert image.boxes == expected
    # the boxes lie on the third line (y = 760 - 36 = 724 points), inside the page
    assert all(b < 724 + 1 < t and 60 - 1 <= left for left, b, _, t in image.boxes)
    # and the PNG is yellow-tinted there: the pixel at the middle of the first character's box
    from PIL import Image

    png = Image.open(io.BytesIO(image.png)).convert("RGB")
    assert (png.width, png.height) == (image.width, image.height)
    left, bottom, right, top = image.boxes[0]
    _, crop_bottom, _, crop_top = pdf[1].get_cropbox()
    x, y = (left + right) / 2 * image.scale, (crop_top - (bottom + top) / 2) * image.scale
    r, g, b = png.getpixel((int(x) - 3, int(y)))  # beside the glyph's stroke: highlighted paper
    assert r > 200 and g > 180 and b < 200
    r, g, b = png.getpixel((int(image.width * 0.9), int(y)))  # same line, far right: white paper
    assert (r, g, b) == (255, 255, 255)


@pytest.mark.parametrize("which", [0, 1])
def test_a_repeated_quote_highlights_the_occurrence_cited(kb, which):
    """ "企业可在三十日内申请稳岗返还。" stands twice on page 2: its own line, then inside SENTENCE."""
    import pypdfium2

    quote = "企业可在三十日内申请稳岗返还。"
    document = kb.document("policy.pdf")
    start = document.text.index(quote) if which == 0 else document.text.index(SENTENCE) + SENTENCE.index(quote)
    image = kb.page_image("policy.pdf", start, start + len(quote))
    text = pypdfium2.PdfDocument(kb.original("policy.pdf"))[1].get_textpage().get_text_range()
    first = text.index(quote) if which == 0 else text.index(SENTENCE) + SENTENCE.index(quote)
    assert image.char_indices == tuple(range(first, first + len(quote)))


@pytest.mark.parametrize("doc_id", ["../index/manifest.json", "/etc/passwd", "uploads/../../x.pdf", "a\\..\\b", "nope.txt", "", "./note.txt"])
def test_unknown_and_traversing_ids_are_refused(kb, doc_id):
    with pytest.raises(UnknownDocumentError, match="文档|document"):
        kb.excerpt(doc_id, 0, 1)
    with pytest.raises(UnknownDocumentError):
        kb.original(doc_id)


@pytest.mark.parametrize("span", [(-1, 3), (5, 5), (7, 3), (0, 10**6)])
def test_offsets_outside_the_document_are_refused(kb, span):
    with pytest.raises(SpanError, match="引用位置超出文档范围 / offsets"):
        kb.excerpt("note.txt", *span)
    with pytest.raises(SpanError):
        kb.page_image("policy.pdf", *span)


def test_a_changed_or_missing_original_is_unavailable(kb, tmp_path):
    with pytest.raises(OriginalUnavailableError, match="no pages"):
        kb.page_image("note.txt", 0, 5)
    (tmp_path / "docs" / "policy.pdf").write_bytes(b"%PDF-1.4 something else")
    with pytest.raises(OriginalUnavailableError, match="changed since it was indexed"):
        kb.page_image("policy.pdf", 0, 5)
    (tmp_path / "docs" / "policy.pdf").unlink()
    with pytest.raises(OriginalUnavailableError, match="not where the index recorded"):
        kb.original("policy.pdf")


def test_the_source_view_works_on_milvus_too(tmp_path, fake_embedder):
    """RAG_STORE=milvus (milvus-lite): the same excerpt, highlighted page and refusals as the files store."""
    pytest.importorskip("pymilvus")
    from rag.source_view.cache import PageCache
    from rag.store.milvus import release_clients

    base = replace(Settings.from_env(), index_dir=tmp_path / "index")
    settings = build_kb(tmp_path, fake_embedder, replace(base, store="milvus", milvus_uri=str(tmp_path / "milvus.db")))
    try:
        assert (tmp_path / "milvus.db").exists() and not list((tmp_path / "index").glob("gen-*"))  # the data is in Milvus
        with SourceLibrary.open(settings) as library:
            assert library.settings.store == "milvus"
            library.cache = PageCache()  # rendered here, not taken from the files-store tests' shared cache
            test_excerpt_holds_the_quote_at_its_offsets(library)
            test_excerpt_of_a_pdf_names_its_page(library)
            test_pdf_page_highlights_exactly_the_quoted_characters(library)
            for doc_id in ("../index/manifest.json", "/etc/passwd", "uploads/../../x.pdf", "a\\..\\b", "nope.txt", "", "./note.txt"):
                test_unknown_and_traversing_ids_are_refused(library, doc_id)
    finally:
        release_clients()


def test_excerpt_function_alone():
    from rag.types import Document

    doc = Document("a.txt", "A", "一二三四五六七", "h")
    assert excerpt(doc, 0, 7, context_chars=3).marked() == "【一二三四五六七】"
    with pytest.raises(SpanError):
        excerpt(doc, 6, 8)


def run_cli(*args):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_rag_show_prints_the_quote_and_writes_the_page(kb, tmp_path):
    document = kb.document("policy.pdf")
    start = document.text.index(SENTENCE)
    png = tmp_path / "page.png"
    index = str(kb.settings.index_dir)
    done = run_cli("show", "policy.pdf", "--start", str(start), "--end", str(start + len(SENTENCE)), "--png", str(png), "--index", index)
    assert done.returncode == 0, done.stderr
    assert f"【{SENTENCE}】" in done.stdout and "page 2" in done.stdout
    assert png.read_bytes().startswith(b"\x89PNG") and f"{len(SENTENCE)} characters highlighted" in done.stdout
    refused = run_cli("show", "../../etc/passwd", "--start", "0", "--end", "3", "--index", index)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip().count("\n") == 0 and "not a document id" in refused.stderr


def test_web_source_view_shows_the_quote_escaped_with_the_page_image(kb, tmp_path):
    """The web chat's source view (rag/serve/source.py): the quote in <mark>, the page image for a
    PDF, and one polite line for what cannot be shown."""
    from rag.serve.source import EMPTY, parse_request, source_view_html

    def view(request: str) -> str:
        return source_view_html(lambda: SourceLibrary.open(kb.settings), request)

    note = kb.document("note.txt").text
    start = note.index("人社部门")
    shown = view(f"note.txt|{start}|{start + 8}|3")
    assert '<mark class="quote">人社部门在十个工</mark>' in shown and "关于稳岗返还的说明" in shown and "<img" not in shown
    pdf = kb.document("policy.pdf").text
    start = pdf.index(SENTENCE)
    shown = view(f"policy.pdf|{start}|{start + len(SENTENCE)}")
    assert f'<mark class="quote">{SENTENCE}</mark>' in shown and "第 2 页" in shown and 'src="data:image/png;base64,' in shown
    assert view("") == EMPTY and view("note.txt|x|3") == EMPTY and parse_request("a|b.txt|1|2|7") == ("a|b.txt", 1, 2)
    assert parse_request("a|b.txt|1|2|span=1:2|7") == ("a|b.txt", 1, 2) == parse_request("a|b.txt|1|2||7")
    start = note.index("人社部门")
    bold = view(f"note.txt|{start}|{start + 8}|span={start + 2}:{start + 4}|4")  # the answer's span inside the quote
    assert '<mark class="quote">人社<strong class="span">部门</strong>在十个工</mark>' in bold
    assert '<mark class="quote">人社部门在十个工</mark>' in view(f"note.txt|{start}|{start + 8}|span=0:{start + 4}|4")  # not inside: no bold
    start = pdf.index(SENTENCE)
    for request in ("../../etc/passwd|0|5", "missing.txt|0|5", f"note.txt|0|{len(note) + 5}"):
        refused = view(request)
        assert refused.count("<div") == 1 and "problem" in refused and "Traceback" not in refused and " / " not in refused, refused
    (tmp_path / "docs" / "policy.pdf").write_bytes(b"%PDF-1.4 changed")  # the original changed since indexing
    shown = view(f"policy.pdf|{start}|{start + len(SENTENCE)}")
    assert f'<mark class="quote">{SENTENCE}</mark>' in shown and "<img" not in shown and "无法显示页面图像" in shown


def test_web_source_view_escapes_markup(tmp_path, fake_embedder):
    from rag.serve.source import source_view_html

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bad.txt").write_text("关于标记的通知\n\n正文<script>alert(1)</script>结束。\n", encoding="utf-8")
    settings = replace(Settings.from_env(), index_dir=tmp_path / "index", store="files")
    assert build_index([docs], settings, fake_embedder).ok
    shown = source_view_html(lambda: SourceLibrary.open(settings), "bad.txt|0|7")
    assert "<script>" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown


def test_source_api_returns_the_place_as_json(kb):
    """The web API's /source, called as the handler (the browser test calls it through gradio_client)."""
    import base64

    from rag.serve.source import source_json

    def ask(doc_id: str, start: int, end: int, page: int | None = None) -> dict:
        return source_json(lambda: SourceLibrary.open(kb.settings), doc_id, start, end, page)

    pdf = kb.document("policy.pdf").text
    start = pdf.index(SENTENCE)
    found = ask("policy.pdf", start, start + len(SENTENCE))
    assert found["error"] is None and found["page"] == 2 and found["pages"] == 2 and found["image_page"] == 2
    assert found["text"][found["quote_start"] : found["quote_end"]] == SENTENCE == found["quote"]
    assert base64.b64decode(found["png_base64"]) == kb.page_image("policy.pdf", start, start + len(SENTENCE)).png
    first = ask("policy.pdf", start, start + len(SENTENCE), page=1)  # a neighbouring page, unhighlighted
    assert first["image_page"] == 1 and first["page"] == 2 and first["png_base64"] != found["png_base64"]
    assert "no page 3" in ask("policy.pdf", start, start + len(SENTENCE), page=3)["image_error"]
    note = ask("note.txt", 0, 4)
    assert note["page"] is None and note["png_base64"] is None and note["title"] == "关于稳岗返还的说明"
    for refused in (ask("../../etc/passwd", 0, 5), ask("note.txt", 0, 10_000)):
        assert refused["error"] and "text" not in refused and "png_base64" not in refused


def test_neighbouring_pages_in_the_web_view(kb):
    """A PDF's view links the page before and after, bounded to the document; `page=N` shows page N."""
    from rag.serve.source import source_view_html

    pdf = kb.document("policy.pdf").text
    start = pdf.index(SENTENCE)

    def view(extra: str) -> str:
        return source_view_html(lambda: SourceLibrary.open(kb.settings), f"policy.pdf|{start}|{start + len(SENTENCE)}|{extra}|1")

    shown = view("")  # page 2 of 2: a link back to page 1, none forward
    assert 'alt="第 2 页"' in shown and 'data-page="1"' in shown and 'data-page="3"' not in shown
    first = view("page=1")
    assert 'alt="第 1 页"' in first and 'data-page="2"' in first and 'data-page="0"' not in first
    assert f'<mark class="quote">{SENTENCE}</mark>' in first  # the text still shows the quote
    assert "没有第 9 页" in view("page=9") and "<img" not in view("page=9")


def test_page_cache_evicts_the_least_recently_used():
    from rag.source_view.cache import PageCache
    from rag.source_view.pdf_page import PageImage

    def png(n: int) -> PageImage:
        return PageImage(b"x" * n, 1, 1.0, 1, 1, (), ())

    cache = PageCache(max_bytes=250)
    cache.put("a", png(100))
    cache.put("b", png(100))
    assert cache.get("a") is not None  # "a" is now the more recent
    cache.put("c", png(100))  # 300 > 250: "b" goes
    assert "b" not in cache and "a" in cache and "c" in cache and cache.size == 200 and len(cache) == 2
    cache.put("big", png(300))  # larger than the whole cache: not kept, nothing else evicted
    assert "big" not in cache and len(cache) == 2
    rendered = []
    cache.get_or_render("d", lambda: rendered.append(1) or png(50))
    cache.get_or_render("d", lambda: rendered.append(1) or png(50))
    assert rendered == [1] and cache.size <= 250


def test_pages_are_rendered_once(kb):
    """The library's page renders go through its cache, keyed by content, page, span and dpi."""
    from rag.source_view.cache import PageCache

    kb.cache = PageCache()
    pdf = kb.document("policy.pdf").text
    start = pdf.index(SENTENCE)
    one = kb.page_image("policy.pdf", start, start + len(SENTENCE))
    assert kb.page_image("policy.pdf", start, start + len(SENTENCE)) is one and len(kb.cache) == 1
    assert kb.plain_page_image("policy.pdf", 2).png != one.png and len(kb.cache) == 2
    with pytest.raises(SpanError):
        kb.plain_page_image("policy.pdf", 3)


def test_original_download_serves_the_indexed_bytes_under_the_documents_name(kb, tmp_path):
    """The source view's download: the original's bytes through SourceLibrary.original (the index's
    own places, sha256 checked), named by the document's base name; nothing for a bad id."""
    from types import SimpleNamespace

    from rag.serve.handlers import Handlers
    from rag.serve.source import download_name, original_file

    def offered(request: str) -> Path | None:
        return original_file(lambda: SourceLibrary.open(kb.settings), request, folder=tmp_path / "out")

    original = (tmp_path / "docs" / "policy.pdf").read_bytes()
    path = offered("policy.pdf|0|5|span=1:2|3")
    assert path is not None and path.name == "policy.pdf" and path.read_bytes() == original
    assert path.parent.parent == tmp_path / "out"
    for request in ("../../etc/passwd|0|5", "/etc/passwd|0|5", "docs/../../policy.pdf|0|5", "missing.txt|0|5", "", "policy.pdf|x|5"):
        assert offered(request) is None, request
    assert download_name("a/b/通知<1>.pdf") == "通知_1_.pdf" and download_name("..") == "original" and download_name(".env") == "env"
    assert download_name("x/\x00evil\r\n.txt") == "_evil__.txt"
    assistant = SimpleNamespace(settings=kb.settings, store=kb.store, data=kb.snapshot, refresh=lambda: False)  # what the source view asks of it
    handler = Handlers(assistant, None)  # type: ignore[arg-type]
    update = handler.original_download("policy.pdf|0|5|1")
    assert update["visible"] is True and Path(update["value"]).read_bytes() == original and Path(update["value"]).name == "policy.pdf"
    assert handler.original_download("../../etc/passwd|0|5|1")["visible"] is False
    (tmp_path / "docs" / "policy.pdf").write_bytes(b"%PDF-1.4 changed")  # changed since indexing: not offered
    assert offered("policy.pdf|0|5") is None and handler.original_download("policy.pdf|0|5|2")["visible"] is False


def test_page_image_carries_its_highlight_boxes_in_pixels(kb, tmp_path):
    """`data-boxes` on the page image: the quoted characters' PDFium boxes, scaled to the image."""
    import json
    import re
    from html import unescape

    from rag.serve.source import source_view_html

    pdf = kb.document("policy.pdf").text
    start = pdf.index(SENTENCE)
    shown = source_view_html(lambda: SourceLibrary.open(kb.settings), f"policy.pdf|{start}|{start + len(SENTENCE)}|1")
    found = re.search(r'<img class="page-image"[^>]* width="(\d+)"[^>]* data-boxes="([^"]*)"', shown)
    assert found is not None
    boxes = json.loads(unescape(found.group(2)))
    expected = expected_pixel_boxes((tmp_path / "docs" / "policy.pdf").read_bytes(), 1, SENTENCE, int(found.group(1)))
    assert_boxes_match(boxes, expected, SENTENCE)


def make_scan_pdf() -> bytes:
    """A one-page PDF holding only a picture of text (no text layer), as a scanner makes."""
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    picture = Image.new("RGB", (600, 200), "white")
    ImageDraw.Draw(picture).rectangle((40, 80, 560, 110), fill="black")  # a "line of text"
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawImage(ImageReader(picture), 60, 600, width=450, height=150)
    c.showPage()
    c.save()
    return buf.getvalue()


def test_a_scanned_page_shows_its_image_and_says_it_cannot_highlight(kb):
    """A page without a text layer: the image is shown, nothing highlighted, and one line says the
    highlight is not available for scans (instead of an error)."""
    from rag.serve.source import NOT_FOUND_NOTE, SCAN_NOTE, source_view_html
    from rag.source_view import pdf_page_png

    scan = pdf_page_png(make_scan_pdf(), 1, (0, 6), "第二页写明：企业可在三十日内申请。")
    assert scan.boxes == () and scan.pixel_boxes == () and not scan.has_text and scan.png.startswith(b"\x89PNG")
    pdf = kb.document("policy.pdf").text
    start = pdf.index(SENTENCE)
    library = SourceLibrary.open(kb.settings)
    library.page_image = lambda *args, **kwargs: scan  # type: ignore[method-assign]  # page 2 as if it were scanned
    shown = source_view_html(lambda: library, f"policy.pdf|{start}|{start + len(SENTENCE)}|1")
    assert SCAN_NOTE in shown and 'class="page-image"' in shown and 'data-boxes="[]"' in shown and "problem" not in shown
    assert f'<mark class="quote">{SENTENCE}</mark>' in shown
    highlighted = source_view_html(lambda: SourceLibrary.open(kb.settings), f"policy.pdf|{start}|{start + len(SENTENCE)}|2")
    assert SCAN_NOTE not in highlighted and NOT_FOUND_NOTE not in highlighted and 'data-boxes="[]"' not in highlighted
    text_page = pdf_page_png((kb.settings.index_dir.parent / "docs" / "policy.pdf").read_bytes(), 2, (0, 4), "不在这一页的话")
    assert text_page.has_text and text_page.boxes == ()  # a text page where the quote is not found: the other line
