"""See the source on scans (issue 35): the OCR line boxes kept in the stored document, and the
quote highlighted on a scanned PDF page and on an image file — in both stores, through the library,
`rag show --png`, the web view and the `/source` API.

The scans are made here: two lines of Chinese typeset with Pillow at known places on a small page
(1000 × 260 px), saved as a PNG and as page 2 of an image-only PDF (200 dpi, as a scanner makes
it), then indexed with the real OCR engine (about 1 s a page on two cores). The highlight must lie
where the test drew the quoted characters, within half a character across (a box that strayed
further would mark more of a neighbouring character than of its own; OCR's box is a line's, the
part of it by character count, and "。" at a line's end has its ink at the left of its cell) and a
quarter of a character up or down (OCR pads a line's ink by a few pixels; the lines are 70 px
apart, so a box within that is on its own line).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from html import unescape
from pathlib import Path

import pytest
from support.scans import font_file, image_bytes, image_pdf

from rag.config import Settings
from rag.indexing.build import build_index
from rag.source_view import SourceLibrary, image_png, quote_parts
from rag.source_view.cache import PageCache
from rag.store.base import document_from_json, document_json, line_boxes_from_json
from rag.types import Document, LineBox, LineBoxes

ROOT = Path(__file__).resolve().parent.parent
LINES = ("各地要落实惠企政策免申即享，将水利建设", "基金纳入免申即享范围，持续提升获得感。")
QUOTE_FROM, QUOTE_TO = "将水利建设", "范围"  # the quote: line 1's last 5 characters, line 2's first 10
ORIGIN, PITCH, EM = (80, 60), 70, 40  # where line 1 is drawn, the line pitch, the type size (px)
PDF_POINTS_PER_PIXEL = 72 / 200  # tests/support/scans.image_pdf puts the image on the page at 200 dpi

needs_ocr = pytest.mark.skipif(font_file() is None, reason="no CJK font to typeset pages (apt-get install fonts-noto-cjk)")


def drawn_page():
    """The page and, per line, each character's box where Pillow drew it (left, top, right, bottom:
    its advance across, its line's ink up and down)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_file()), EM)
    page = Image.new("RGB", (1000, 260), "white")
    draw = ImageDraw.Draw(page)
    cells = []
    for i, line in enumerate(LINES):
        x, y = ORIGIN[0], ORIGIN[1] + PITCH * i
        draw.text((x, y), line, font=font, fill=(0, 0, 0))
        _, top, _, bottom = draw.textbbox((x, y), line, font=font)
        cells.append([(x + font.getlength(line[:k]), top, x + font.getlength(line[: k + 1]), bottom) for k in range(len(line))])
    return page, cells


def expected_parts(cells) -> list[tuple[float, float, float, float]]:
    """Where the quote was drawn: the last 5 characters of line 1, the first 10 of line 2."""
    first, second = cells
    return [(first[14][0], first[14][1], first[18][2], first[18][3]), (second[0][0], second[0][1], second[9][2], second[9][3])]


def assert_lies_over(boxes, expected, pixels_per_drawn_pixel: float) -> None:
    """Each highlight box over its drawn span: across within half a character, up and down within
    a quarter (both in drawn pixels, scaled to the page image)."""
    assert len(boxes) == len(expected), (boxes, expected)
    across, down = EM / 2 * pixels_per_drawn_pixel, EM / 4 * pixels_per_drawn_pixel
    for got, want in zip(boxes, expected, strict=True):
        want = [v * pixels_per_drawn_pixel for v in want]
        assert abs(got[0] - want[0]) <= across and abs(got[2] - want[2]) <= across, (got, want)
        assert abs(got[1] - want[1]) <= down and abs(got[3] - want[3]) <= down, (got, want)


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    pytest.importorskip("rapidocr")
    if font_file() is None:
        pytest.skip("no CJK font to typeset pages (apt-get install fonts-noto-cjk)")
    from PIL import Image, ImageDraw, ImageFont

    page, cells = drawn_page()
    cover = Image.new("RGB", (1000, 260), "white")
    ImageDraw.Draw(cover).text(ORIGIN, "第一页：目录。", font=ImageFont.truetype(str(font_file()), EM), fill=(0, 0, 0))
    docs = tmp_path_factory.mktemp("scans") / "docs"
    docs.mkdir()
    (docs / "scan.png").write_bytes(image_bytes(page))
    (docs / "scan.pdf").write_bytes(image_pdf([cover, page]))
    return docs, cells


def build(scans, folder: Path, store: str) -> Settings:
    from conftest import FakeEmbedder

    settings = replace(Settings.from_env(), index_dir=folder / "index", store=store, milvus_uri=str(folder / "milvus.db"))
    report = build_index([scans[0]], settings, FakeEmbedder())
    assert report.ok, report.summary()
    return settings


@pytest.fixture(scope="module")
def files_kb(scans, tmp_path_factory):
    return build(scans, tmp_path_factory.mktemp("files"), "files")


def quote_span(library: SourceLibrary, doc_id: str) -> tuple[int, int]:
    text = library.document(doc_id).text
    start = text.index(QUOTE_FROM)
    return start, text.index(QUOTE_TO, start) + len(QUOTE_TO)


def check_highlights(settings: Settings, cells) -> None:
    with SourceLibrary.open(settings) as library:
        library.cache = PageCache()  # rendered here, not taken from another test's shared cache
        for doc_id, page, per_pixel in (("scan.png", 1, 1.0), ("scan.pdf", 2, PDF_POINTS_PER_PIXEL)):
            document = library.document(doc_id)
            assert {b.page for b in document.line_boxes} == ({1} if page == 1 else {1, 2})  # kept in the store
            start, end = quote_span(library, doc_id)
            image = library.page_image(doc_id, start, end)
            assert image.page == page and image.ocr and not image.has_text and image.png.startswith(b"\x89PNG")
            assert_lies_over(image.pixel_boxes, expected_parts(cells), per_pixel * image.scale)
            # and the PNG is yellow-tinted there, white outside the quote on the same line
            from PIL import Image

            png = Image.open(io.BytesIO(image.png)).convert("RGB")
            left, top, right, bottom = image.pixel_boxes[1]
            r, g, b = png.getpixel((int(left) + 1, int(top) + 1))  # the box's corner: highlighted paper
            assert r > 200 and g > 180 and b < 200, (r, g, b)
            assert min(png.getpixel((int(right + (right - left) / 5 + 2), int(top) + 1))) > 235  # paper, not tinted (blue ≈ 160 under the tint)


@needs_ocr
def test_a_scanned_pdf_page_and_an_image_highlight_where_the_quote_was_drawn(scans, files_kb):
    check_highlights(files_kb, scans[1])


@needs_ocr
def test_the_same_on_milvus(scans, tmp_path):
    pytest.importorskip("pymilvus")
    from rag.store.milvus import release_clients

    settings = build(scans, tmp_path, "milvus")
    try:
        assert (tmp_path / "milvus.db").exists() and not list((tmp_path / "index").glob("gen-*"))  # the data is in Milvus
        check_highlights(settings, scans[1])
    finally:
        release_clients()


@needs_ocr
def test_web_view_and_api_on_a_scan(scans, files_kb):
    """The web view shows the page with its boxes and says they follow the recognised lines; a
    scanned PDF links its neighbouring page, an image is one page; `/source` returns the boxes."""
    from rag.serve.source import OCR_NOTE, source_json, source_view_html

    def open_library() -> SourceLibrary:
        return SourceLibrary.open(files_kb)

    with open_library() as library:
        png_span, pdf_span = quote_span(library, "scan.png"), quote_span(library, "scan.pdf")
    shown = source_view_html(open_library, f"scan.png|{png_span[0]}|{png_span[1]}|1")
    assert OCR_NOTE in shown and "第 1 / 1 页" in shown and 'data-page="' not in shown
    found = re.search(r'<img class="page-image"[^>]* data-boxes="([^"]*)"', shown)
    assert found is not None
    assert_lies_over(json.loads(unescape(found.group(1))), expected_parts(scans[1]), 1.0 * float(re.search(r'data-scale="([^"]+)"', shown).group(1)))  # type: ignore[union-attr]
    pdf = source_view_html(open_library, f"scan.pdf|{pdf_span[0]}|{pdf_span[1]}|2")
    assert OCR_NOTE in pdf and 'alt="第 2 页"' in pdf and 'data-page="1"' in pdf
    cover = source_view_html(open_library, f"scan.pdf|{pdf_span[0]}|{pdf_span[1]}|page=1|3")
    assert 'alt="第 1 页"' in cover and 'data-boxes="[]"' in cover and OCR_NOTE not in cover
    reply = source_json(open_library, "scan.png", *png_span)
    assert reply["error"] is None and reply["ocr"] is True and reply["image_page"] == 1 and len(reply["boxes"]) == 2
    assert source_json(open_library, "scan.png", *png_span, page=2)["image_error"]  # an image is one page


@needs_ocr
def test_rag_show_writes_the_highlighted_scan(scans, files_kb, tmp_path):
    with SourceLibrary.open(files_kb) as library:
        start, end = quote_span(library, "scan.pdf")
    png = tmp_path / "page.png"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    args = ["show", "scan.pdf", "--start", str(start), "--end", str(end), "--png", str(png), "--index", str(files_kb.index_dir)]
    done = subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "page 2" in done.stdout and "2 recognised lines highlighted (OCR)" in done.stdout and png.read_bytes().startswith(b"\x89PNG")


# --- without the OCR engine -----------------------------------------------------------------------


def test_a_partly_quoted_line_is_highlighted_in_proportion():
    line = LineBox(1, 100.0, 10.0, 500.0, 50.0, start=20, end=40)  # 20 characters, 20 units each
    assert quote_parts([line], 25, 30) == [(200.0, 10.0, 300.0, 50.0)]
    assert quote_parts([line], 0, 100) == [(100.0, 10.0, 500.0, 50.0)]  # the whole line: its box
    assert quote_parts([line], 0, 20) == [] and quote_parts([line], 40, 45) == []  # touching is not covering
    two = [line, LineBox(1, 100.0, 60.0, 300.0, 100.0, start=40, end=50)]
    assert quote_parts(two, 38, 45) == [(460.0, 10.0, 500.0, 50.0), (100.0, 60.0, 200.0, 100.0)]


def test_line_boxes_survive_the_stores_json_compactly():
    boxes = [LineBox(1 + i // 35, 180.2, 100.0 + 30 * (i % 35), 1474.9, 128.5 + 30 * (i % 35), 40 * i + i // 35, 40 * i + 38 + i // 35) for i in range(10_000)]
    doc = Document("scan.pdf", "扫描件", "字" * 410_000, "h", page_starts=(0,), line_boxes=LineBoxes.of(boxes))
    assert len(doc.line_boxes) == 10_000 and len(doc.line_boxes.packed) == 28 * 10_000  # in memory: 28 bytes a line
    raw = document_json(doc)
    back = document_from_json(json.loads(raw))
    assert back == doc and list(back.line_boxes) == boxes and back.line_boxes.on_page(2)[0] == boxes[35]
    beside_text = len(raw.encode()) - len(document_json(replace(doc, line_boxes=LineBoxes())).encode())
    assert beside_text < 30 * 10_000  # a 300-page scan's 10,000 lines: under 300 KB beside its text
    old = json.loads(document_json(replace(doc, line_boxes=LineBoxes())))
    assert "line_boxes" not in old and document_from_json(old).line_boxes == LineBoxes()  # an index written before boxes were kept
    for damaged in ([1, 2, 3], [1, 2, 3, 4, 5, 6, "7"], "1,2"):
        with pytest.raises(ValueError):
            line_boxes_from_json(damaged)  # type: ignore[arg-type]


def test_an_image_is_shown_bounded_each_frame_a_page():
    from PIL import Image

    from rag.source_view import SpanError

    big = Image.new("RGB", (4000, 3000), "white")
    image = image_png(image_bytes(big, "JPEG"), 1, [(400.0, 300.0, 800.0, 340.0)])
    assert image.width * image.height <= (110 * 210 / 25.4) * (110 * 297 / 25.4) + 4000  # an A4 page at the default 110 dpi
    assert image.scale == pytest.approx(image.width / 4000, rel=0.01) and image.ocr
    assert image.pixel_boxes[0] == pytest.approx(tuple(v * image.scale for v in (400.0, 300.0, 800.0, 340.0)))
    out = io.BytesIO()
    frames = [Image.new("RGB", (300, 200), colour) for colour in ("white", "grey")]
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    second = image_png(out.getvalue(), 2)
    assert Image.open(io.BytesIO(second.png)).getpixel((5, 5)) == (128, 128, 128) and not second.ocr and second.pixel_boxes == ()
    from rag.serve.source import OCR_NOTE, SCAN_NOTE, highlight_note

    assert highlight_note(second) == SCAN_NOTE and highlight_note(image) == OCR_NOTE  # lines not kept (an older index) / kept
    with pytest.raises(SpanError, match="no page 3"):
        image_png(out.getvalue(), 3)


def test_download_copies_of_originals_are_pruned(tmp_path):
    """下载原文件 writes a copy for Gradio to serve (it copies it into its own cache): copies offered
    over an hour ago, and all but the newest 16, are deleted when another is offered."""
    import time

    from rag.serve.source import prune_originals

    now = time.time()
    for i in range(20):
        folder = tmp_path / f"copy{i:02d}"
        folder.mkdir()
        (folder / "a.pdf").write_bytes(b"%PDF")
        age = 7200 if i < 2 else i  # copy00, copy01: two hours old; copy02 … copy19: 2 … 19 s old
        os.utime(folder, (now - age, now - age))
    keep = tmp_path / "copy00"  # offered just now, however old its folder
    prune_originals(tmp_path, keep=keep)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["copy00"] + [f"copy{i:02d}" for i in range(2, 17)], left  # 16 kept: this one and the 15 newest
