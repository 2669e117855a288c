"""OCR of scans and photographed pages (issue 34): reading order and paragraphs from made-up boxes,
the PDF and image paths with a stand-in engine, and, with the real RapidOCR models, a scanned copy
of the seed reply indexed and answered with its page.

The page images are typeset here (tests/support/scans.py, Debian's fonts-noto-cjk); the real-engine
tests recognise three pages in all (about 10 s each on two cores).
"""

from __future__ import annotations

import io
import logging
from dataclasses import replace

import pytest
from support.scans import font_file, image_bytes, image_pdf, scanned, typeset

from conftest import FOUR_POLICIES, SEED_FILE, SEED_QUESTION
from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats import SUPPORTED_SUFFIXES, extract
from rag.ingest.formats.ocr import OcrLine, OcrUnavailable, PageImage, pages_text
from rag.ingest.formats.ocr import pages as ocr_pages
from rag.ingest.formats.ocr.layout import read_page, skew_degrees
from rag.ingest.load import document_from_bytes

needs_font = pytest.mark.skipif(font_file() is None, reason="no CJK font to typeset pages (apt-get install fonts-noto-cjk)")


def box(text: str, x: float, y: float, w: float | None = None, h: float = 40, degrees: float = 0.0) -> OcrLine:
    """A line `text` at (x, y), one character per h pixels unless `w` says otherwise, turned by `degrees`
    about the page's corner (as a skewed scan turns every line)."""
    import math

    w = w if w is not None else h * len(text)
    t = math.radians(degrees)

    def turn(px: float, py: float) -> tuple[float, float]:
        return (px * math.cos(t) - py * math.sin(t), px * math.sin(t) + py * math.cos(t))

    return OcrLine(text, 0.99, (turn(x, y), turn(x + w, y), turn(x + w, y + h), turn(x, y + h)))


def page_of_paragraphs(degrees: float = 0.0) -> list[OcrLine]:
    """A page 20 characters wide (40 px each, from x=200): a title, a heading, two paragraphs with
    the two-character indent, the second one's last line short."""
    rows = [
        ("关于推行免申即享的通知", 420, None),  # centred
        ("一、总体要求", 280, None),  # indented heading
        ("各地要落实惠企政策免申即享，将水利建设", 280, 760),
        ("基金、文化事业建设费纳入免申即享范围，持续提", 200, 800),
        ("升市场主体获得感。", 200, None),
        ("二、工作安排", 280, None),
        ("定期公布政策目录清单。", 280, None),
    ]
    return [box(text, x, 300 + 64 * i, w, degrees=degrees) for i, (text, x, w) in enumerate(rows)]


@pytest.mark.parametrize("degrees", [0.0, 2.5, -3.0])
def test_lines_come_back_in_order_as_paragraphs_even_when_skewed(degrees):
    lines = page_of_paragraphs(degrees)
    assert skew_degrees(lines) == pytest.approx(degrees, abs=0.01)
    reversed_lines = list(reversed(lines))  # the engine's order is not the reading order
    assert [p.text for p in read_page(reversed_lines)] == [
        "关于推行免申即享的通知",
        "一、总体要求",
        "各地要落实惠企政策免申即享，将水利建设基金、文化事业建设费纳入免申即享范围，持续提升市场主体获得感。",
        "二、工作安排",
        "定期公布政策目录清单。",
    ]


def test_each_part_knows_where_it_lies_in_the_paragraph():
    for para in read_page(page_of_paragraphs(1.0)):
        for part, (a, b) in zip(para.parts, para.spans):
            assert para.text[a:b] == part.line.text


def test_a_two_page_spread_is_read_page_by_page_and_a_table_row_by_row():
    left = [box(f"左页第{i}行的正文内容写满了这一整行文字", 100, 100 + 60 * i, 760) for i in range(5)]
    right = [box(f"右页第{i}行的正文内容写满了这一整行文字", 1000, 100 + 60 * i, 760) for i in range(5)]
    text = "".join(p.text for p in read_page(right + left))
    assert text.index("左页第4行") < text.index("右页第0行")
    cells = [box(t, x, 100 + 60 * r, h=40) for r, row in enumerate([("地区", "完成率"), ("福州", "98%"), ("厦门", "99%")]) for t, x in zip(row, (100, 700))]
    assert [p.text for p in read_page(cells)] == ["地区 完成率", "福州 98%", "厦门 99%"]


def test_numbered_clauses_of_a_standard_start_paragraphs_without_an_indent():
    lines = [
        box("8.1.1 四边形玻璃面板可采用四点支承，有依据时也可", 200, 100, 800),
        box("采用六点支承，三角形玻璃面板可采用三点支承", 200, 164, 800),
        box("8.1.2 采用浮头式连接件的幕墙玻璃厚度不应小于6", 200, 228, 800),
        box("mm；增长0.2个百分点。", 200, 292),
    ]
    assert [p.text for p in read_page(lines)] == [
        "8.1.1 四边形玻璃面板可采用四点支承，有依据时也可采用六点支承，三角形玻璃面板可采用三点支承",
        "8.1.2 采用浮头式连接件的幕墙玻璃厚度不应小于6mm；增长0.2个百分点。",
    ]


def test_latin_words_keep_a_space_across_a_line_break_chinese_and_numbers_do_not():
    lines = [box("采用 ONNX", 200, 100, 800), box("Runtime 推理，2", 200, 164, 800), box("024年上线。", 200, 228)]
    assert [p.text for p in read_page(lines)] == ["采用 ONNX Runtime 推理，2024年上线。"]


class FakeEngine:
    """Returns the same two lines for every page; fails on the pages it is told to."""

    name = "fake"

    def __init__(self, fail_on: tuple[int, ...] = ()):
        self.calls, self.fail_on = 0, fail_on

    def recognise(self, image):
        self.calls += 1
        if self.calls in self.fail_on:
            raise RuntimeError("engine crashed")
        if image.min() > 128:  # nothing printed on it
            return []
        return [box("扫描件第一行，免申即享政策", 200, 100, 1000), box("扫描件第二行。", 200, 164)]


@pytest.fixture
def fake_engine(monkeypatch):
    engine = FakeEngine()
    monkeypatch.setattr(ocr_pages, "open_engine", lambda: engine)
    return engine


def blank_scan(width: int = 400, height: int = 560, mark: bool = True):
    """A pale page; with `mark`, a dark bar on it (the stand-in engine reads only marked pages)."""
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (width, height), (250, 250, 250))
    if mark:
        ImageDraw.Draw(page).rectangle((width // 4, height // 4, width // 2, height // 4 + 20), fill=(20, 20, 20))
    return page


def test_image_suffixes_are_supported_and_an_image_gives_pages_and_line_boxes(fake_engine):
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"} <= set(SUPPORTED_SUFFIXES)
    got = extract(image_bytes(blank_scan()), ".png", bytes.decode)
    assert got.text.startswith("扫描件第一行，免申即享政策扫描件第二行。") and got.page_starts == (0,)
    first = got.line_boxes[0]
    assert got.text[first.start : first.end] == "扫描件第一行，免申即享政策"
    assert (first.page, first.x0, first.y0) == (1, 200, 100)  # pixels of the image


def test_a_large_photo_is_read_smaller_and_its_boxes_are_in_its_own_pixels(fake_engine, monkeypatch):
    from rag.ingest.formats.ocr import render

    monkeypatch.setattr(render, "MAX_SIDE", 1000)
    seen = []
    monkeypatch.setattr(fake_engine, "recognise", lambda image, real=fake_engine.recognise: seen.append(image.shape) or real(image))
    got = extract(image_bytes(blank_scan(2400, 3000), "JPEG"), ".jpg", bytes.decode)
    assert max(seen[0]) <= 1000
    assert got.line_boxes[0].x0 == pytest.approx(200 * 3000 / max(seen[0]), rel=0.01)  # 200 px of the smaller page


def test_a_multi_page_tiff_is_one_page_per_frame(fake_engine):
    out = io.BytesIO()
    blank_scan().save(out, "TIFF", save_all=True, append_images=[blank_scan()])
    got = extract(out.getvalue(), ".tiff", bytes.decode)
    assert len(got.page_starts) == 2 and fake_engine.calls == 2
    assert [b.page for b in got.line_boxes] == [1, 1, 2, 2]


def test_a_text_layer_pdf_is_never_ocrd_and_a_scanned_page_beside_it_is(fake_engine):
    from test_formats import make_pdf

    text_only = make_pdf(["第一页：免申即享政策清单。" * 3, "第二页：失业保险稳岗返还。" * 3])
    got = extract(text_only, ".pdf", bytes.decode)
    assert fake_engine.calls == 0 and got.line_boxes == () and "稳岗返还" in got.text

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for source in (text_only, image_pdf([blank_scan(1654, 2339)])):
        writer.append(PdfReader(io.BytesIO(source)))
    mixed = io.BytesIO()
    writer.write(mixed)
    doc = document_from_bytes(mixed.getvalue(), "mixed.pdf", suffix=".pdf")
    assert fake_engine.calls == 1  # only the page without text
    assert doc.page_of(doc.text.index("第一页")) == 1 and doc.page_of(doc.text.index("扫描件第一行")) == 3
    boxes = extract(mixed.getvalue(), ".pdf", bytes.decode).line_boxes
    assert {b.page for b in boxes} == {3}
    assert boxes[0].x0 == pytest.approx(200 * 72 / 200, abs=0.5)  # PDF points: 200 px at 200 dpi


def test_a_page_that_fails_is_reported_and_the_rest_kept(caplog):
    import numpy as np

    engine = FakeEngine(fail_on=(2,))
    pages = [lambda: PageImage(np.zeros((10, 10, 3), np.uint8), 1.0)] * 3  # dark: read
    with caplog.at_level(logging.INFO, logger="rag.ocr"):
        got = pages_text(pages, 3, Limits(), engine=engine)
    assert len(got.page_starts) == 3 and got.text.count("扫描件第一行") == 2
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["OCR page 1/3", "OCR page 2/3 failed", "OCR page 3/3"]
    assert got.warnings == ("1 of 3 pages not recognised, the rest indexed: 第 2 页无法识别 / page 2 failed (RuntimeError: engine crashed)",)


def test_the_warning_of_a_page_that_failed_names_the_file(caplog, monkeypatch):
    engine = FakeEngine(fail_on=(1,))
    monkeypatch.setattr(ocr_pages, "open_engine", lambda: engine)
    with caplog.at_level(logging.WARNING, logger="rag.ingest"):
        doc = document_from_bytes(image_pdf([blank_scan(), blank_scan()]), "扫描/two-pages.pdf", suffix=".pdf")
    assert "扫描件第一行" in doc.text and len(doc.page_starts) == 2  # page 2 kept
    assert [r.getMessage() for r in caplog.records if r.name == "rag.ingest"] == [
        "扫描/two-pages.pdf: 1 of 2 pages not recognised, the rest indexed: 第 1 页无法识别 / page 1 failed (RuntimeError: engine crashed)"
    ]


def test_without_an_ocr_engine_a_scan_is_refused_in_one_line(monkeypatch):
    def unavailable():
        raise OcrUnavailable("OCR 不可用：缺少 rapidocr / OCR unavailable")

    monkeypatch.setattr(ocr_pages, "open_engine", unavailable)
    for data, suffix in ((image_bytes(blank_scan()), ".png"), (image_pdf([blank_scan()]), ".pdf")):
        with pytest.raises(DocumentError) as err:
            document_from_bytes(data, f"scan{suffix}", suffix=suffix)
        assert str(err.value) == "OCR 不可用：缺少 rapidocr / OCR unavailable"


def test_a_broken_image_and_a_broken_scan_are_reported_and_the_rest_indexed(tmp_path, fake_embedder, fake_engine):
    from rag import Settings, build_index

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("各地要落实免申即享政策。", encoding="utf-8")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 40)
    scan = image_pdf([blank_scan()])
    start = scan.index(b"\xff\xd8\xff")  # the page's JPEG: its header destroyed
    (folder / "broken-scan.pdf").write_bytes(scan[:start] + b"\x00" * 64 + scan[start + 64 :])
    settings = replace(Settings.from_env(), index_dir=tmp_path / "index")
    report = build_index([folder], settings, fake_embedder)
    reasons = {p.path.rsplit("/", 1)[-1]: p.reason for p in report.problems}
    assert set(reasons) == {"broken.png", "broken-scan.pdf"}, reasons
    assert "图片已损坏" in reasons["broken.png"] and "\n" not in reasons["broken-scan.pdf"]
    assert report.chunks >= 1  # good.txt is indexed


# --- the real engine ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_scan_pdf():
    """The seed reply typeset at 14 pt, its first two pages scanned 2° and −1.5° askew, as an image-only PDF."""
    lines = [ln.strip() for ln in SEED_FILE.read_text("utf-8").splitlines() if ln.strip()]
    pages = typeset(lines[: lines.index("(此件主动公开)") + 1], points=14)
    return image_pdf([scanned(pages[0][0], 2.0, seed=1), scanned(pages[1][0], -1.5, seed=2)])


@needs_font
def test_a_small_photographed_image_is_read_with_the_real_engine():
    pytest.importorskip("rapidocr")
    from PIL import ImageDraw, ImageFont

    image = blank_scan(900, 220)
    font = ImageFont.truetype(str(font_file()), 40)
    ImageDraw.Draw(image).text((60, 60), "失业保险稳岗返还政策纳入免申即享。", font=font, fill=(20, 20, 20))
    got = extract(image_bytes(scanned(image, 1.0), "JPEG"), ".jpg", bytes.decode)
    assert "失业保险稳岗返还政策纳入免申即享" in got.text


@pytest.fixture(scope="module")
def scan_index(tmp_path_factory, seed_scan_pdf, embedder):
    """The scanned seed indexed once for both readers (OCR of its two pages is the slow part)."""
    pytest.importorskip("rapidocr")
    from rag import Settings, build_index

    folder = tmp_path_factory.mktemp("scan")
    (folder / "docs").mkdir()
    (folder / "docs" / "seed-scan.pdf").write_bytes(seed_scan_pdf)
    settings = replace(Settings.from_env(), index_dir=folder / "index")
    report = build_index([folder / "docs"], settings, embedder)
    assert report.ok and report.chunks > 0, report.problems
    return settings


@needs_font
@pytest.mark.parametrize("reader", ["rules", "model"])
def test_a_scanned_seed_reply_is_indexed_and_answered_with_its_page(scan_index, embedder, reader):
    from rag import Assistant

    assistant = Assistant(replace(scan_index, reader=reader), embedder=embedder)
    doc = assistant.documents["seed-scan.pdf"]
    assert dict(doc.metadata)["文号"].startswith("闽工信提案") and len(doc.page_starts) == 2
    answer = assistant.ask(SEED_QUESTION)
    assert not answer.refused, answer.text
    for policy in FOUR_POLICIES:
        assert policy in answer.text
    cited = answer.citations[0]
    assert cited.doc_id == "seed-scan.pdf" and cited.page == 2, cited  # 14 pt type: the list is on page 2
    assert all(policy in cited.quote for policy in FOUR_POLICIES)
    assert "推动政策精准落地" in cited.heading
