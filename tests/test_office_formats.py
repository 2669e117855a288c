"""OFD, spreadsheets and slides (issue 34), from files made here and the health bureau's OFD reply."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.chunking import chunk_document
from rag.ingest.load import document_from_bytes

REPLY = Path(__file__).parent / "data" / "luqiao-health-bureau-reply.ofd"
NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def make_ofd(pages: list[str], template: str = "", annotation: str = "", extra: dict[str, bytes] | None = None) -> bytes:
    """An OFD package from page layers' XML (`<ofd:TextObject …>` elements), with an optional
    template drawn under every page and annotations on the first page."""
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    parts = {
        "OFD.xml": f'{head}<ofd:OFD {NS} Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo><ofd:DocID>t</ofd:DocID></ofd:DocInfo>'
        "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures></ofd:DocBody></ofd:OFD>",
        "Doc_0/Document.xml": f"{head}<ofd:Document {NS}><ofd:CommonData><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>"
        + ('<ofd:TemplatePage ID="9" BaseLoc="Tpls/Tpl_0/Content.xml"/>' if template else "")
        + "</ofd:CommonData><ofd:Pages>"
        + "".join(f'<ofd:Page ID="{i + 1}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages)))
        + "</ofd:Pages>"
        + ("<ofd:Annotations>Annots/Annotations.xml</ofd:Annotations>" if annotation else "")
        + "</ofd:Document>",
        "Doc_0/Signs/Signatures.xml": "not xml at all: signatures are never read",
    }
    for i, layer in enumerate(pages):
        use = '<ofd:Template TemplateID="9" ZOrder="Background"/>' if template else ""
        parts[f"Doc_0/Pages/Page_{i}/Content.xml"] = f'{head}<ofd:Page {NS}>{use}<ofd:Content><ofd:Layer ID="1">{layer}</ofd:Layer></ofd:Content></ofd:Page>'
    if template:
        parts["Doc_0/Tpls/Tpl_0/Content.xml"] = f"{head}<ofd:Page {NS}><ofd:Content><ofd:Layer>{template}</ofd:Layer></ofd:Content></ofd:Page>"
    if annotation:
        parts["Doc_0/Annots/Annotations.xml"] = (
            f'{head}<ofd:Annotations {NS}><ofd:Page PageID="1"><ofd:FileLoc>Page_0/Annotation.xml</ofd:FileLoc></ofd:Page></ofd:Annotations>'
        )
        parts["Doc_0/Annots/Page_0/Annotation.xml"] = f"{head}<ofd:PageAnnot {NS}>{annotation}</ofd:PageAnnot>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in {**parts, **(extra or {})}.items():
            archive.writestr(name, data)
    return out.getvalue()


def text_object(x: float, y: float, text: str, size: float = 5.6, extra: str = "") -> str:
    """One line of text at (x, y) mm, a character every `size` mm (`g N v`: v, N times)."""
    return (
        f'<ofd:TextObject ID="1" Font="1" Size="{size}" Boundary="{x} {y} 160 {size * 2}" {extra}>'
        f'<ofd:TextCode X="0" Y="{size}" DeltaX="g {len(text) - 1} {size}">{text}</ofd:TextCode></ofd:TextObject>'
    )


def test_the_health_bureau_reply_reads_whole_lines_and_sentences():
    doc = document_from_bytes(REPLY.read_bytes(), REPLY.name, suffix=".ofd")
    assert doc.meta["文号"] == "路卫发〔2011〕76号"
    assert doc.title == "关于同意张阿三同志辞职的批复"
    lines = doc.text.splitlines()
    for line in ("测试符路桥区卫生局文件", "关于同意张阿三同志辞职的批复", "区中医院："):
        assert line in lines
    for sentence in (
        "你院《关于给张阿三同志辞职的请示》（路中医发〔2011〕10号）收悉。",
        "张阿三，男，1978年2月出生，籍贯江西新建，2001年9月参加工作，本科学历，主治医师，系区中医院职工。",
        "2011年3月1日该同志向医院递交辞职报告，鉴于本人实际情况，根据《浙江省专业技术人员和管理人员辞职暂行办法》"
        "（浙人才〔1993〕73号）文件精神，经研究，同意张阿三同志辞职。",
    ):
        assert sentence in doc.text
    assert "— 1 —" not in doc.text  # page numbers are page furniture
    assert doc.page_of(doc.text.index("张阿三，男")) == 1 and doc.page_of(doc.text.index("印发")) == 2
    assert doc.text.index("区中医院") < doc.text.index("张阿三，男") < doc.text.index("印发")


def test_an_ofd_made_here_is_read_in_reading_order_with_template_and_annotations():
    size = 5.0
    line1 = "各有关单位要及时支付中小企业款项，不得以"  # fills the line: the paragraph goes on
    body = (
        text_object(28, 60, "通过限期清偿、通报约谈等推进清偿。", size)  # drawn first, read third (lowest)
        + text_object(38, 40, line1, size * 2, extra='CTM="0.5 0 0 0.5 0 0"')  # drawn twice as large, halved by its CTM
        + text_object(28, 50, "任何理由拖欠。", size)
    )
    ofd = make_ofd(
        [body, text_object(28, 40, "第二页的内容。")],
        template=text_object(28, 20, "模板里的标题通知"),
        annotation='<ofd:Annot Type="Stamp"><ofd:Appearance Boundary="0 0 50 50">' + text_object(0, 0, "印章文字") + "</ofd:Appearance></ofd:Annot>"
        '<ofd:Annot Type="Link"><ofd:Appearance Boundary="28 250 100 10">' + text_object(0, 0, "注释中的文字") + "</ofd:Appearance></ofd:Annot>",
    )
    doc = document_from_bytes(ofd, "made.ofd", suffix=".ofd")
    assert "印章文字" not in doc.text  # seals are not the document's text; the broken signature part is never read
    order = [doc.text.index(s) for s in ("模板里的标题通知", line1 + "任何理由拖欠。", "通过限期清偿", "注释中的文字", "第二页的内容。")]
    assert order == sorted(order)
    assert doc.page_of(doc.text.index("第二页")) == 2 and doc.page_of(doc.text.index("通过限期")) == 1


def test_broken_ofds_are_refused_with_one_line_reasons():
    good = make_ofd([text_object(28, 40, "正文内容。")])
    cases = {
        b"%PDF-1.7 not an ofd": "not an OFD",
        b"PK\x03\x04 truncated": "damaged",
        make_ofd([text_object(28, 40, "正文")], extra={"OFD.xml": b"<ofd:OFD"}): "damaged part OFD.xml",
        make_ofd(["<ofd:TextObject"]): "damaged part Doc_0/Pages/Page_0/Content.xml",
    }
    for data, reason in cases.items():
        with pytest.raises(DocumentError, match=reason) as caught:
            document_from_bytes(data, "broken.ofd", suffix=".ofd")
        assert "\n" not in str(caught.value)
    with pytest.raises(DocumentError, match="压缩炸弹"):
        document_from_bytes(good, "small.ofd", suffix=".ofd", limits=Limits(xml_bytes=200))
    laughs = (  # entities are never expanded: a billion laughs stays a few bytes
        '<?xml version="1.0"?><!DOCTYPE ofd:Page [<!ENTITY a "哈哈哈哈哈哈哈哈"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f"<ofd:Page {NS}><ofd:Content><ofd:Layer>{text_object(28, 40, '&b;正文内容。')}</ofd:Layer></ofd:Content></ofd:Page>"
    )
    text = document_from_bytes(make_ofd(["x"], extra={"Doc_0/Pages/Page_0/Content.xml": laughs.encode()}), "laughs.ofd", suffix=".ofd").text
    assert "正文内容。" in text and "哈哈" not in text


def make_xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "存贷款"
    sheet.append(["2019年7月银行业金融机构存贷款情况"])
    sheet.merge_cells("A1:E1")
    sheet.append(["项    目", "单位", "存款", None, "备注"])
    sheet.append([None, None, "余额", "增速", None])
    for cell in ("A2:A3", "B2:B3", "E2:E3"):
        sheet.merge_cells(cell)
    sheet.merge_cells("C2:D2")
    sheet.append(["住户", "亿元", 3104.66749, 0.052, "含活期"])
    sheet.append([None, "万元", 12, 0.1, None])
    sheet.merge_cells("A4:A5")
    sheet["D4"].number_format = "0.00%"
    book.create_sheet("说明").append(["数据来源：人民银行泰州市中心支行"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_rows_are_records_under_their_sheet_with_merged_headers():
    doc = document_from_bytes(make_xlsx(), "deposits.xlsx", suffix=".xlsx")
    lines = doc.text.splitlines()
    assert "# 存贷款" in lines and "2019年7月银行业金融机构存贷款情况" in lines
    assert "项目：住户；单位：亿元；存款/余额：3104.6675；存款/增速：5.2%；备注：含活期" in lines
    assert "项目：住户；单位：万元；存款/余额：12；存款/增速：0.1" in lines  # the merged label fills down
    assert "# 说明" in lines and "数据来源：人民银行泰州市中心支行" in lines
    assert doc.title == "存贷款"  # the first sheet's name titles the document, the others head their chunks
    assert next(c for c in chunk_document(doc) if "数据来源" in c.text).heading_path == ("说明",)


def test_csv_in_gbk_with_its_header():
    data = "政策,批次,金额\n失业保险稳岗返还,第一批,100\n文化事业建设费,第二批,\n".encode("gbk")
    doc = document_from_bytes(data, "list.csv", suffix=".csv")
    assert "政策：失业保险稳岗返还；批次：第一批；金额：100" in doc.text
    assert "政策：文化事业建设费；批次：第二批" in doc.text.splitlines()


def make_pptx() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "免申即享工作进展"
    slide.placeholders[1].text_frame.text = "公布两批省级目录清单。"
    slide.placeholders[1].text_frame.add_paragraph().text = "纳入失业保险稳岗返还。"
    table = deck.slides.add_slide(deck.slide_layouts[5])
    table.shapes.title.text = "各地完成率"
    grid = table.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate([("地区", "完成率"), ("福州", "98%"), ("厦门", "99%")]):
        for c, value in enumerate(row):
            grid.cell(r, c).text = value
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def test_pptx_slide_titles_are_headings_with_their_text_and_tables():
    doc = document_from_bytes(make_pptx(), "deck.pptx", suffix=".pptx")
    assert doc.title == "免申即享工作进展"
    lines = doc.text.splitlines()
    assert lines.index("# 免申即享工作进展") < lines.index("公布两批省级目录清单。") < lines.index("# 各地完成率")
    assert "地区：福州；完成率：98%" in lines and "地区：厦门；完成率：99%" in lines
    assert doc.page_of(doc.text.index("厦门")) == 2
    assert any(c.heading_path[-1:] == ("各地完成率",) for c in chunk_document(doc))


def test_broken_office_files_are_reported_and_the_rest_indexed(tmp_path, fake_embedder):
    from rag import Settings, build_index

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.xlsx").write_bytes(make_xlsx())
    (folder / "good.pptx").write_bytes(make_pptx())
    (folder / "reply.ofd").write_bytes(REPLY.read_bytes())
    (folder / "broken.xlsx").write_bytes(make_xlsx()[:3000])
    (folder / "broken.pptx").write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    (folder / "broken.ofd").write_bytes(REPLY.read_bytes()[:5000])
    (folder / "broken.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    (folder / "renamed.xls").write_bytes("这是文本，不是表格".encode())
    (folder / "renamed.et").write_bytes("WPS 表格的名字，文本的内容".encode())
    (folder / "binary.csv").write_bytes(bytes(range(256)) * 8)
    settings = replace(Settings.from_env(), index_dir=tmp_path / "index")
    report = build_index([folder], settings, fake_embedder)
    reasons = {p.path.rsplit("/", 1)[-1]: p.reason for p in report.problems}
    assert set(reasons) == {"broken.xlsx", "broken.pptx", "broken.ofd", "broken.xls", "renamed.xls", "renamed.et", "binary.csv"}
    assert all(reason and "\n" not in reason and "Traceback" not in reason for reason in reasons.values())
    assert "damaged" in reasons["broken.xlsx"] and "not an .xls" in reasons["renamed.xls"] and "not an .et" in reasons["renamed.et"]
    assert report.documents == 3


@pytest.mark.parametrize("reader", ["rules", "model"])
def test_the_ofd_reply_answers_with_its_citation(tmp_path, embedder, reader):
    from rag import Assistant, Settings, build_index

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / REPLY.name).write_bytes(REPLY.read_bytes())
    settings = replace(Settings.from_env(), index_dir=tmp_path / "index", reader=reader)
    assert build_index([folder], settings, embedder).ok
    answer = Assistant(settings, embedder=embedder).ask("张阿三是哪一年出生的?")
    assert not answer.refused, answer.text
    assert "1978年" in answer.text and "[1]" in answer.text
    cited = answer.citations[0]
    assert cited.doc_id == REPLY.name and "1978年2月出生" in cited.quote
    assert dict(cited.metadata)["文号"] == "路卫发〔2011〕76号"
