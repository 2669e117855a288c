"""Legacy word-processor files (.doc, .wps, .rtf) through LibreOffice, from files made here: a .doc
converted from a .docx written by python-docx, an RTF written by hand with GBK escapes."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.ingest.chunking import chunk_document
from rag.ingest.formats import soffice
from rag.ingest.load import document_from_bytes


def gbk_escapes(text: str) -> str:
    r"""RTF for `text` in code page 936, as an ANSI writer of the GBK era saved it: `\'b9\'d8…`."""
    return "".join(ch if ord(ch) < 128 else "".join(f"\\'{b:02x}" for b in ch.encode("gbk")) for ch in text)


def make_rtf() -> bytes:
    rows = [("地区", "完成率"), ("福州", "98%"), ("厦门", "99%")]
    table = "".join(r"\trowd\cellx3000\cellx6000" + "".join(r"\pard\intbl " + gbk_escapes(cell) + r"\cell" for cell in row) + r"\row" for row in rows)
    body = (
        r"\pard\qc " + gbk_escapes("关于做好账款支付工作的通知") + r"\par"
        r"\pard " + gbk_escapes("各有关单位要及时支付中小企业款项，通过限期清偿、通报约谈等推进清偿。") + r"\par" + table + r"\pard\par"
    )
    return (r"{\rtf1\ansi\ansicpg936\deff0{\fonttbl{\f0\fnil\fcharset134 SimSun;}}" + body + "}").encode("ascii")


def make_docx() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("关于做好账款支付工作的通知", level=1)
    d.add_paragraph("各有关单位要及时支付中小企业款项。")
    d.add_heading("一、工作要求", level=2)
    d.add_paragraph("通过限期清偿、通报约谈等推进清偿。", style="List Number")
    d.add_paragraph("对拖欠款项开展专项督查。", style="List Number")
    table = d.add_table(rows=3, cols=2)
    for r, row in enumerate([("地区", "完成率"), ("福州", "98%"), ("厦门", "99%")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_paragraph("以上数据截至年底。")  # a Word binary file ends on a paragraph, never a table
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def word97() -> bytes:
    """A Word 97–2003 .doc, converted from a python-docx file by the LibreOffice the reader uses."""
    if shutil.which(soffice.PROGRAM) is None:
        pytest.fail("LibreOffice (soffice) is not installed (make test installs it: make office)")
    return soffice.convert(make_docx(), ".docx", "doc:MS Word 97", max_bytes=10 * 1024 * 1024)


def test_a_doc_keeps_chinese_headings_tables_and_numbering(word97):
    assert word97.startswith(b"\xd0\xcf\x11\xe0")  # an OLE compound file, as Word writes it
    doc = document_from_bytes(word97, "notice.doc", suffix=".doc")
    assert doc.title == "关于做好账款支付工作的通知"
    assert "各有关单位要及时支付中小企业款项。" in doc.text
    assert "地区：福州；完成率：98%" in doc.text and "地区：厦门；完成率：99%" in doc.text
    assert "1.通过限期清偿" in doc.text.replace(" ", "") and "2.对拖欠款项" in doc.text.replace(" ", "")  # automatic numbering kept
    assert any("一、工作要求" in c.heading_path for c in chunk_document(doc))


def test_a_kingsoft_wps_is_a_word_binary_read_the_same(word97):
    as_doc = document_from_bytes(word97, "notice.doc", suffix=".doc")
    as_wps = document_from_bytes(word97, "notice.wps", suffix=".wps")
    assert as_wps.text == as_doc.text


def test_a_gbk_rtf_keeps_its_chinese_and_table_rows():
    data = make_rtf()
    assert data.isascii() and b"\\'b9\\'d8" in data  # 关 in GBK escapes, nothing else
    doc = document_from_bytes(data, "notice.rtf", suffix=".rtf")
    assert doc.title == "关于做好账款支付工作的通知"
    assert "通过限期清偿、通报约谈等推进清偿。" in doc.text
    assert "地区：福州；完成率：98%" in doc.text


def test_a_doc_is_read_by_what_it_is_not_by_its_name():
    """Word saves RTF and web pages as .doc; a .docx is sometimes renamed .doc."""
    page = "<html><head><title>通知</title></head><body><h1>关于推行免申即享的通知</h1><p>各地要落实免申即享政策。</p></body></html>"
    assert "通过限期清偿" in document_from_bytes(make_rtf(), "rtf.doc", suffix=".doc").text
    assert "各地要落实免申即享政策。" in document_from_bytes(page.encode("gbk"), "page.doc", suffix=".doc").text
    assert "地区：福州；完成率：98%" in document_from_bytes(make_docx(), "renamed.doc", suffix=".doc").text


def test_broken_and_encrypted_files_say_why(word97, tmp_path):
    import olefile

    cases = {
        "broken.doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"garbage" * 100, "damaged|unreadable"),
        "broken.wps": (b"\x00\x01WPS?" + b"garbage" * 100, "not a Word or WPS document"),
        "fake.rtf": ("这是文本，不是RTF".encode(), "not an RTF file"),
    }
    for name, (data, reason) in cases.items():
        with pytest.raises(DocumentError, match=reason):
            document_from_bytes(data, name, suffix=Path(name).suffix)
    locked = tmp_path / "locked.doc"
    locked.write_bytes(word97)
    with olefile.OleFileIO(str(locked), write_mode=True) as ole:
        fib = bytearray(ole.openstream("WordDocument").read())
        fib[11] |= 0x01  # FIB flags: fEncrypted
        ole.write_stream("WordDocument", bytes(fib))
    with pytest.raises(DocumentError, match="encrypted"):
        document_from_bytes(locked.read_bytes(), "locked.doc", suffix=".doc")


def test_broken_files_are_reported_and_the_rest_indexed(tmp_path, seed_copy, fake_embedder, word97):
    from dataclasses import replace

    from rag.config import Settings
    from rag.indexing.build import build_index

    settings = replace(Settings.from_env(), index_dir=tmp_path / "index")
    (seed_copy / "notice.doc").write_bytes(word97)
    (seed_copy / "notice.rtf").write_bytes(make_rtf())
    (seed_copy / "broken.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"garbage" * 100)
    (seed_copy / "broken.wps").write_bytes(b"garbage" * 100)
    (seed_copy / "broken.rtf").write_bytes("不是RTF".encode())
    report = build_index([seed_copy], settings, fake_embedder)
    reasons = {p.path.rsplit("/", 1)[-1]: p.reason for p in report.problems}
    assert set(reasons) == {"broken.doc", "broken.wps", "broken.rtf"}
    assert all("\n" not in r and "Traceback" not in r for r in reasons.values())
    assert report.documents == 3  # the seed, the .doc and the .rtf


def test_a_missing_converter_is_one_line_not_a_traceback(monkeypatch):
    monkeypatch.setattr(soffice, "PROGRAM", "soffice-not-installed")
    with pytest.raises(DocumentError) as caught:
        document_from_bytes(make_rtf(), "notice.rtf", suffix=".rtf")
    message = str(caught.value)
    assert "\n" not in message and "LibreOffice" in message and "make office" in message


def test_a_hung_converter_is_killed_with_everything_it_started(monkeypatch, tmp_path):
    pids = tmp_path / "pids"
    hung = tmp_path / "soffice"
    hung.write_text(f"#!/bin/sh\nsleep 60 &\necho $$ $! > {pids}\nwait\n")
    hung.chmod(0o755)
    monkeypatch.setattr(soffice, "PROGRAM", str(hung))
    monkeypatch.setattr(soffice, "TIMEOUT_S", 1.0)
    started = time.monotonic()
    with pytest.raises(DocumentError, match="超时.*stopped"):
        document_from_bytes(make_rtf(), "notice.rtf", suffix=".rtf")
    assert time.monotonic() - started < 10
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid), pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return bool(state) and not state.startswith("Z")  # a zombie has ended; its parent reaps it


def test_a_centred_title_broken_over_lines_becomes_the_title():
    """Word marks a title by its look: centred lines of one style near the top, joined; the
    bracketed line under it and the first section heading stay as they were."""
    from rag.ingest.formats.word import xhtml_text
    from rag.ingest.govdoc import analyse

    xhtml = (
        "<html><head><title>- no title specified</title><style>.P1 { text-align:center ! important; }"
        " .P2 { text-align:justify ! important; }</style></head><body>"
        '<p class="P2">文号：朝电〔2017〕5号</p><p class="P1"/><p class="P1">关于朝阳供电公司</p>'
        '<p class="P1">审计发现问题整改结果的报告</p><p class="P1">（朝阳供电公司）</p>'
        '<p class="P2">审计部：</p><h1 class="P2">一、整改落实工作组织情况</h1><p class="P2">正文。</p></body></html>'
    )
    text = xhtml_text(xhtml)
    assert "no title specified" not in text
    assert "# 关于朝阳供电公司审计发现问题整改结果的报告\n\n（朝阳供电公司）" in text
    assert analyse(text, "x", is_markdown=True).title == "关于朝阳供电公司审计发现问题整改结果的报告"
    assert "# 一、整改落实工作组织情况" in text


def test_merged_cells_stay_under_their_headers_and_a_caption_row_is_a_line():
    from rag.ingest.formats.word import xhtml_text

    xhtml = (
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head><body><table>'
        '<tr><td colspan="3"><p>2019年存贷款情况</p></td></tr>'
        "<tr><td><p>地区</p></td><td><p>项目</p></td><td><p>余额</p></td></tr>"
        '<tr><td rowspan="2"><p>福州</p></td><td><p>存款</p></td><td><p>120亿元</p></td></tr>'
        "<tr><td><p>贷款</p></td><td><p>80亿元</p></td></tr>"
        "</table><table><tr><td><p>序号</p></td><td><p>物料名称</p></td></tr><tr><td><p>1</p></td><td/></tr>"
        "<tr><td><p>2</p></td><td/></tr></table></body></html>"
    )
    text = xhtml_text(xhtml)
    assert "2019年存贷款情况\n\n地区：福州；项目：存款；余额：120亿元\n\n地区：福州；项目：贷款；余额：80亿元" in text
    assert "序号；物料名称" in text and "序号：1" not in text  # an empty form: its column names


def ole10native_stream(name: str, data: bytes) -> bytes:
    """An `Ole10Native` stream as Word writes a packaged file (names in the ANSI code page)."""
    import struct

    label = name.encode("gbk") + b"\0"
    source = b"C:\\Users\\ds\\Desktop\\" + label
    temp = b"C:\\Temp\\" + label
    body = b"\x02\x00" + label + source + b"\x00\x00\x03\x00" + struct.pack("<I", len(temp)) + temp + struct.pack("<I", len(data)) + data
    return struct.pack("<I", len(body)) + body


class FakeOle:
    """What embedded_files reads of an olefile.OleFileIO: the entries and their streams."""

    def __init__(self, streams: dict[str, bytes]):
        self.streams = streams

    def listdir(self):
        return [path.split("/") for path in self.streams]

    def exists(self, path):
        return path in self.streams

    def openstream(self, path):
        return io.BytesIO(self.streams[path])


def test_embedded_files_are_taken_out_of_the_object_pool():
    from rag.ingest.formats.attachments import embedded_files, ole10native

    assert ole10native(b"\x00" * 5) is None  # not laid out as a packaged file
    ole = FakeOle(
        {
            "WordDocument": b"",
            "ObjectPool/_1/\x01Ole10Native": ole10native_stream("附件1.txt", "免申即享政策清单。".encode("gbk")),
            "ObjectPool/_2/package": make_docx(),
            "ObjectPool/_3/Workbook": b"BIFF",  # an Excel binary kept as a storage: not a file
        }
    )
    found, unread = embedded_files(ole)
    assert [a.name for a in found] == ["附件1.txt", "attachment2.docx"] and unread == 1
    assert found[0].data.decode("gbk") == "免申即享政策清单。"


def test_a_documents_attachments_are_read_under_their_names(word97, monkeypatch):
    from rag.ingest.formats import word
    from rag.ingest.formats.attachments import Attachment

    attached = [Attachment("附件1.txt", "免申即享政策清单：失业保险稳岗返还。".encode("gbk")), Attachment("附件2.docx", make_docx())]
    monkeypatch.setattr(word, "_ole_kind", lambda data, suffix: (".doc", attached, 1))
    doc = document_from_bytes(word97, "reply.doc", suffix=".doc")
    assert doc.title == "关于做好账款支付工作的通知"  # the body's, not an attachment's
    assert "## 附件：附件1.txt\n\n免申即享政策清单：失业保险稳岗返还。" in doc.text
    assert "## 附件：附件2.docx" in doc.text and "### 关于做好账款支付工作的通知" in doc.text  # its headings nest

    monkeypatch.setattr(word, "_ole_kind", lambda data, suffix: (".doc", [], 2))
    monkeypatch.setattr(word.soffice, "convert", lambda *a, **k: b"<html><body><p/></body></html>")
    with pytest.raises(DocumentError, match="2 embedded attachments cannot be read"):
        document_from_bytes(word97, "empty.doc", suffix=".doc")
