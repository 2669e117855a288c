from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEED_FILE
from rag.errors import DocumentError
from rag.ingest.encoding import _looks_binary
from rag.ingest.load import decode_bytes, document_from_bytes, load_document

SAMPLE = "免申即享包括哪些政策？福建省工业和信息化厅。"


@pytest.mark.parametrize(
    "data",
    [
        SAMPLE.encode("utf-8"),
        b"\xef\xbb\xbf" + SAMPLE.encode("utf-8"),
        SAMPLE.encode("gbk"),
        SAMPLE.encode("gb18030"),
        SAMPLE.encode("utf-16"),  # with BOM
        SAMPLE.encode("utf-16-le"),  # without BOM
    ],
    ids=["utf8", "utf8-bom", "gbk", "gb18030", "utf16-bom", "utf16le"],
)
def test_decodes_common_chinese_encodings(data):
    assert decode_bytes(data) == SAMPLE


def test_real_gbk_bytes():
    # "政务服务" in GBK, written out byte by byte
    assert decode_bytes(bytes.fromhex("d5fecef1b7fecef1")) == "政务服务"


@pytest.mark.parametrize("data", [b"\x00\x01\x02\x03binary\x00\xff" * 20, bytes(range(256)) * 4])
def test_binary_is_refused(data):
    with pytest.raises(DocumentError):
        decode_bytes(data)


def test_empty_is_refused():
    with pytest.raises(DocumentError, match="empty"):
        document_from_bytes(b"  \n\n ", "empty.txt")


def test_seed_metadata_and_title():
    doc = load_document(SEED_FILE, SEED_FILE.name)
    assert doc.title == "福建省工业和信息化厅关于省政协十三届二次会议第20243098号提案的答复"
    meta = doc.meta
    assert meta["文号"] == "闽工信提案〔2024〕30号"
    assert meta["发布机构"] == "福建省工业和信息化厅"
    assert meta["生成日期"] == "2024-04-18"
    assert meta["索引号"] == "FJ00103-0901-2024-00109"


def test_seed_boilerplate_outside_body():
    doc = load_document(SEED_FILE, SEED_FILE.name)
    body = "".join(doc.text[a:b] for a, b in doc.body_spans)
    for line in ("扫一扫在手机上查看当前页面", "温馨提示", "PDF文件可直接使用非IE浏览器阅读查看", "相关链接"):
        assert line in doc.text and line not in body
    assert "失业保险稳岗返还" in body


def test_unsupported_and_too_large(tmp_path):
    pdf = tmp_path / "a.exe"
    pdf.write_bytes(b"MZ")
    with pytest.raises(DocumentError, match="unsupported"):
        load_document(pdf, "a.exe")
    big = tmp_path / "big.txt"
    big.write_text("字" * 1000, encoding="utf-8")
    with pytest.raises(DocumentError, match="too large"):
        load_document(big, "big.txt", max_bytes=100)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_decoder_on_arbitrary_bytes_decodes_or_says_why(data):
    try:
        text = decode_bytes(data)
    except DocumentError as exc:
        assert str(exc)
    else:  # what decodes is text: no more characters than bytes, not binary-looking, no BOM kept
        assert len(text) <= len(data) and not _looks_binary(text) and not text.startswith("\ufeff")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=500))
def test_decoder_round_trips_utf8_text(text):
    assert decode_bytes(text.encode("utf-8")) == text
    assert decode_bytes(b"\xef\xbb\xbf" + text.encode("utf-8")) == text


TRADITIONAL = "關於推行惠企政策「免申即享」的通知\n\n二、適用範圍包括免徵水利建設基金、減徵文化事業建設費等項目。臺灣、香港、澳門的企業亦可參照辦理。\n"


@pytest.mark.parametrize("encoding", ["big5", "big5hkscs", "cp950"])
def test_big5_files_decode_to_their_own_characters(encoding):
    """Issue 17: a Big5 notice was refused, and Big5 bytes mostly decode as GB18030 into nonsense."""
    data = TRADITIONAL.encode(encoding)
    assert data.decode("gb18030", errors="replace") != TRADITIONAL  # what a GB-first decoder would have read
    assert decode_bytes(data) == TRADITIONAL


def test_hong_kong_characters_need_big5_hkscs():
    text = TRADITIONAL + "呢份通知係香港嘅企業都可以參照㗎。\n"
    assert decode_bytes(text.encode("big5hkscs")) == text


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "gb2312"])
def test_gb_files_still_decode(encoding):
    text = "关于推行惠企政策免申即享的通知\n\n二、适用范围包括免征水利建设基金、减征文化事业建设费等项目。\n"
    assert decode_bytes(text.encode(encoding)) == text


def test_html_declared_charset_is_honoured_and_a_wrong_one_is_not_trusted():
    page = '<html><head><meta charset="big5"><title>通知</title></head><body><p>' + TRADITIONAL + "</p></body></html>"
    doc = document_from_bytes(page.encode("big5"), "notice.html", suffix=".html")
    assert "適用範圍包括免徵水利建設基金" in doc.text
    lying = page.replace('charset="big5"', 'charset="utf-8"').encode("big5")  # declares UTF-8, is Big5
    assert "適用範圍包括免徵水利建設基金" in document_from_bytes(lying, "lying.html", suffix=".html").text
    for label in ("windows-1252", "iso-8859-1", "utf-16"):  # labels that lie about GBK / UTF-8 bytes
        labelled = page.replace('charset="big5"', f'charset="{label}"')
        for raw in (labelled.encode("gbk"), labelled.encode("utf-8")):
            assert "適用範圍包括免徵水利建設基金" in document_from_bytes(raw, "l.html", suffix=".html").text, (label, raw[:0])
    xml = ('<?xml version="1.0" encoding="gb2312"?><html><body><p>关于免申即享的通知。适用范围包括水利建设基金等项目。</p></body></html>').encode("gb2312")
    assert "适用范围包括水利建设基金" in document_from_bytes(xml, "x.htm", suffix=".htm").text


def _indexed(doc) -> str:
    return "\n".join(doc.text[a:b] for a, b in doc.body_spans)


def test_a_breadcrumb_takes_only_its_part_of_the_line():
    """Issue 17: a page saved as one line that opens with a breadcrumb lost its whole body."""
    text = "当前位置：首页 > 政务公开 > 通知公告 关于做好2024年免申即享政策兑现工作的通知。各设区市工信局：现将有关事项通知如下。"
    doc = document_from_bytes(text.encode("utf-8"), "one-line.txt")
    assert _indexed(doc).startswith("关于做好2024年免申即享政策兑现工作的通知")
    assert "当前位置" not in _indexed(doc) and "政务公开" not in _indexed(doc)
    alone = document_from_bytes("当前位置：首页 > 通知\n\n正文第一段。\n".encode("utf-8"), "crumb.txt")
    assert _indexed(alone).strip() == "正文第一段。"


def test_a_few_stray_control_characters_are_dropped_not_refused():
    text = "关于免申即享政策的通知\x1a\n\n一、适用范围包括水利建设基金。\x1a\x1a\n" + "二、工作要求。\x1a\n" * 3
    doc = document_from_bytes(text.encode("utf-8"), "old-editor.txt")
    assert "\x1a" not in doc.text and "适用范围包括水利建设基金" in doc.text


def test_a_text_that_is_all_furniture_is_still_indexed():
    doc = document_from_bytes("扫一扫在手机打开当前页\n打印\n".encode("utf-8"), "furniture.txt")
    assert "扫一扫" in _indexed(doc)  # a document is refused only when it has no text at all


def test_report_furniture_lines_are_not_indexed():
    text = (
        "2026年政府工作报告\n\n扫一扫在手机打开当前页\n\n各位代表：现在，我代表省人民政府向大会报告工作。\n\n"
        "责任编辑：王明\n\n分享到：微信 微博\n\n5f3a9c0e1b2d4e6f8a7b9c0d1e2f3a4b\n"
    )
    indexed = _indexed(document_from_bytes(text.encode("utf-8"), "report.txt"))
    assert "各位代表" in indexed
    for furniture in ("扫一扫", "责任编辑", "分享到", "5f3a9c0e"):
        assert furniture not in indexed, furniture
