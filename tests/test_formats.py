"""Every supported format, from tiny fixtures made here: text, metadata, headings, pages, tables."""

from __future__ import annotations

import io

import pytest

from rag.errors import DocumentError
from rag.ingest.chunking import chunk_document
from rag.ingest.load import document_from_bytes

HTML = """<html><head><title>页面标题</title><style>.x{color:red}</style><script>var a = "不应出现";</script></head>
<body><nav>首页 | 政务公开 | 导航菜单</nav><header>网站头部</header>
<div class="content"><h1>关于推行惠企政策免申即享的通知</h1>
<p>文号：闽工信〔2024〕1号</p>
<p>一、总体要求</p><p>各地要落实免申即享政策。</p>
<table><tr><th>政策</th><th>批次</th></tr><tr><td>失业保险稳岗返还</td><td>第一批</td></tr><tr><td>文化事业建设费</td><td>第二批</td></tr></table>
<p>扫一扫在手机上查看当前页面</p></div><footer>版权所有 网站底部</footer></body></html>"""


def make_pdf(pages: list[str], encrypt: str | None = None) -> bytes:
    from pypdf import PdfReader, PdfWriter
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for text in pages:
        c.setFont("STSong-Light", 12)
        for i, line in enumerate(text.split("\n")):
            c.drawString(60, 760 - 18 * i, line)
        c.showPage()
    c.save()
    if not encrypt:
        return buf.getvalue()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    writer.encrypt(encrypt, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("关于做好账款支付工作的通知", level=1)
    d.add_paragraph("各有关单位要及时支付中小企业款项。")
    d.add_heading("一、工作要求", level=2)
    d.add_paragraph("通过限期清偿、通报约谈等推进清偿。")
    table = d.add_table(rows=3, cols=2)
    for r, row in enumerate([("地区", "完成率"), ("福州", "98%"), ("厦门", "99%")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_html_main_text_without_furniture():
    doc = document_from_bytes(HTML.encode("utf-8"), "notice.html", suffix=".html")
    assert doc.title == "关于推行惠企政策免申即享的通知"
    assert doc.meta["文号"] == "闽工信〔2024〕1号"
    for gone in ("不应出现", "导航菜单", "网站头部", "网站底部", "color:red"):
        assert gone not in doc.text
    assert "政策：失业保险稳岗返还；批次：第一批" in doc.text  # each row keeps its header
    body = "".join(doc.text[a:b] for a, b in doc.body_spans)
    assert "扫一扫在手机上查看当前页面" not in body
    chunks = chunk_document(doc)
    assert any(c.heading_path[-1:] == ("一、总体要求",) for c in chunks)


def test_gbk_html():
    doc = document_from_bytes(HTML.replace("<html>", '<html><meta charset="gbk">').encode("gbk"), "gbk.htm", suffix=".htm")
    assert "各地要落实免申即享政策。" in doc.text


def test_pdf_with_two_pages_keeps_page_numbers():
    data = make_pdf(["第一页：免申即享政策清单。", "第二页：失业保险稳岗返还。"])
    doc = document_from_bytes(data, "two.pdf", suffix=".pdf")
    assert "免申即享政策清单" in doc.text and "失业保险稳岗返还" in doc.text
    assert len(doc.page_starts) == 2
    assert doc.page_of(doc.text.index("免申即享")) == 1
    assert doc.page_of(doc.text.index("稳岗返还")) == 2


def test_encrypted_and_damaged_pdfs_are_refused():
    with pytest.raises(DocumentError, match="encrypted"):
        document_from_bytes(make_pdf(["机密内容。"], encrypt="secret"), "locked.pdf", suffix=".pdf")
    with pytest.raises(DocumentError, match="damaged|unreadable"):
        document_from_bytes(b"%PDF-1.7\n" + b"garbage" * 50, "broken.pdf", suffix=".pdf")
    with pytest.raises(DocumentError, match="not a PDF"):
        document_from_bytes("这是文本，不是PDF".encode(), "fake.pdf", suffix=".pdf")


def test_docx_paragraphs_headings_and_tables():
    doc = document_from_bytes(make_docx(), "notice.docx", suffix=".docx")
    assert doc.title == "关于做好账款支付工作的通知"
    assert "通过限期清偿、通报约谈等推进清偿。" in doc.text
    assert "地区：福州；完成率：98%" in doc.text and "地区：厦门；完成率：99%" in doc.text
    chunks = chunk_document(doc)
    assert any("一、工作要求" in c.heading_path for c in chunks)
    with pytest.raises(DocumentError):
        document_from_bytes(b"PK\x03\x04 not really a zip", "broken.docx", suffix=".docx")


def docx_bomb(xml_mb: int) -> bytes:
    """A real .docx whose document.xml is padded to `xml_mb` MB of repeated paragraphs (a zip bomb:
    it compresses to a few hundred KB)."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(make_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                para = "<w:p><w:r><w:t>炸弹炸弹炸弹炸弹炸弹炸弹炸弹炸弹炸弹炸弹</w:t></w:r></w:p>".encode()
                head, tail = data.split(b"</w:body>")
                data = head + para * (xml_mb * 1024 * 1024 // len(para)) + b"</w:body>" + tail
            target.writestr(item, data)
    return out.getvalue()


def test_a_docx_zip_bomb_is_refused_before_it_is_unpacked(monkeypatch):
    import docx

    bomb = docx_bomb(40)
    assert len(bomb) < 1024 * 1024  # small on disk, 40 MB of XML inside
    opened = []
    monkeypatch.setattr(docx, "Document", lambda *a, **k: opened.append(1))
    with pytest.raises(DocumentError, match="压缩炸弹"):
        document_from_bytes(bomb, "bomb.docx", suffix=".docx")
    assert opened == []  # refused from the archive's directory, nothing parsed


def test_text_limits_refuse_every_format_with_the_reason():
    from rag.config import Limits

    small = Limits(text_chars=200)
    with pytest.raises(DocumentError, match="RAG_MAX_TEXT_CHARS"):
        document_from_bytes(("各地要落实免申即享政策。" * 40).encode(), "long.txt", suffix=".txt", limits=small)
    with pytest.raises(DocumentError, match="RAG_MAX_TEXT_CHARS"):
        document_from_bytes(make_pdf(["第一页：各地要落实免申即享政策。" * 3] * 6), "long.pdf", suffix=".pdf", limits=small)
    with pytest.raises(DocumentError, match="RAG_MAX_TEXT_CHARS"):
        document_from_bytes(docx_bomb(1), "long.docx", suffix=".docx", limits=small)
    with pytest.raises(DocumentError, match="RAG_MAX_UNPACKED_MB"):
        document_from_bytes(make_docx(), "small.docx", suffix=".docx", limits=Limits(unpacked_bytes=1000))
    # within the default limits the same files read
    assert "免申即享" in document_from_bytes(("各地要落实免申即享政策。" * 40).encode(), "long.txt").text


def test_limits_come_from_the_environment(monkeypatch):
    from rag.config import Settings
    from rag.errors import ConfigError

    monkeypatch.setenv("RAG_MAX_UNPACKED_MB", "2")
    monkeypatch.setenv("RAG_MAX_TEXT_CHARS", "5000")
    limits = Settings.from_env().limits
    assert (limits.unpacked_bytes, limits.text_chars) == (2 * 1024 * 1024, 5000)
    monkeypatch.setenv("RAG_MAX_TEXT_CHARS", "-1")
    with pytest.raises(ConfigError, match="RAG_MAX_TEXT_CHARS"):
        Settings.from_env()


def test_an_xml_part_renamed_to_hide_from_the_limit_still_counts():
    """The reader parses parts by content type, not name: document.xml renamed document.bin (and
    declared as XML) is still XML to the limit."""
    import zipfile

    from rag.config import Limits

    source = zipfile.ZipFile(io.BytesIO(docx_bomb(2)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            name = item.filename.replace("word/document.xml", "word/document.bin")
            data = data.replace(b"word/document.xml", b"word/document.bin").replace(b'Target="document.xml"', b'Target="document.bin"')
            target.writestr(name, data)
    renamed = out.getvalue()
    assert "炸弹炸弹" in document_from_bytes(renamed, "renamed.docx", suffix=".docx").text  # a .docx python-docx reads
    with pytest.raises(DocumentError, match="压缩炸弹"):
        document_from_bytes(renamed, "renamed.docx", suffix=".docx", limits=Limits(xml_bytes=1024 * 1024))
