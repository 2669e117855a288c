from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEED_FILE
from rag.config import ChunkSettings
from rag.errors import DocumentError
from rag.ingest.chunking import chunk_document
from rag.ingest.headings import parse_heading
from rag.ingest.load import document_from_bytes
from rag.types import Document


def seed_document() -> Document:
    return document_from_bytes(SEED_FILE.read_bytes(), SEED_FILE.name)


def test_seed_chunks_are_exact_slices_with_heading_paths():
    doc = seed_document()
    chunks = chunk_document(doc)
    assert len(chunks) > 5
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= ChunkSettings().size
    holder = next(c for c in chunks if "失业保险稳岗返还" in c.text)
    assert holder.heading_path == ("一、我厅优化政务服务的工作情况", "(二)推动政策精准落地")
    assert [c.chunk_id for c in chunks] == [f"{doc.doc_id}#{i}" for i in range(len(chunks))]


def test_chunks_end_at_sentence_ends_when_possible():
    doc = seed_document()
    for chunk in chunk_document(doc):
        assert chunk.text[-1] in "。！？；:：)）" or chunk.end == max(b for _, b in doc.body_spans) or "\n" in doc.text[chunk.end : chunk.end + 2]


def test_boilerplate_is_not_chunked():
    text = " ".join(c.text for c in chunk_document(seed_document()))
    assert "扫一扫在手机上查看当前页面" not in text and "温馨提示" not in text and "相关链接" not in text
    assert "(此件主动公开)" in text


def test_identical_documents_give_identical_ids():
    assert chunk_document(seed_document()) == chunk_document(seed_document())


def test_headings():
    assert parse_heading("一、我厅优化政务服务的工作情况").text == "一、我厅优化政务服务的工作情况"
    assert parse_heading("(二)推动政策精准落地。充分发挥…").text == "(二)推动政策精准落地"
    assert parse_heading("（三）提升服务企业水平").rank > parse_heading("三、下一步").rank
    assert parse_heading("第五十四条 自然人从事工商业经营").text == "第五十四条"
    assert parse_heading("## 第一章 总则").rank == 2
    assert parse_heading("近年来,我厅深入学习贯彻") is None


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=900), st.integers(20, 300), st.integers(0, 19))
def test_offsets_hold_for_arbitrary_unicode(text, size, overlap):
    try:
        doc = document_from_bytes(text.encode("utf-8"), "x.txt")
    except DocumentError:  # empty or binary-looking: chunk the raw text anyway
        doc = Document("x.txt", "x", text, "h", body_spans=((0, len(text)),))
    for chunk in chunk_document(doc, ChunkSettings(size=size, overlap=overlap)):
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text


def test_the_title_line_is_not_a_chunk_of_its_own():
    body = "乌石渔港是位于台湾宜兰县头城镇的观光渔港。" * 20  # longer than one chunk
    doc = document_from_bytes(f"# 乌石渔港\n\n{body}".encode(), "port.md")
    assert doc.title == "乌石渔港"
    chunks = chunk_document(doc)
    assert chunks[0].text.startswith("乌石渔港是")
    assert not any(c.text.strip("# \n") == "乌石渔港" for c in chunks)
    law = document_from_bytes("# 某某条例\n\n## 第一章 总则\n\n第一条 为了规范管理，制定本条例。".encode(), "law.md")
    assert [c.heading_path for c in chunk_document(law)] == [("第一章 总则", "第一条")]
    closed = document_from_bytes(f"# 乌石渔港 #\n\n{body}".encode(), "port2.md")
    assert closed.title == "乌石渔港" and chunk_document(closed)[0].text.startswith("乌石渔港是")
    sharp = document_from_bytes(f"# 学习C#\n\n{body}".encode(), "c.md")  # a # that is part of the title
    assert sharp.title == "学习C#" and chunk_document(sharp)[0].text.startswith("乌石渔港是")
    only_title = document_from_bytes("# 会议通知\n".encode(), "notice.md")
    assert [c.text.strip() for c in chunk_document(only_title)] == ["# 会议通知"]  # still findable


NOTICE = (
    "关于实施惠企政策的通知\n\n一、总体要求\n\n符合条件的企业无需申请即可享受政策。\n\n"
    "二、适用范围包括水利建设基金、文化事业建设费等项目。\n\n三、工作要求\n\n各地要在6月30日前完成梳理。\n"
)


def test_a_numbered_sentence_with_nothing_under_it_is_body_text_not_a_heading():
    doc = document_from_bytes(NOTICE.encode(), "notice.txt")
    chunks = chunk_document(doc)
    holder = next(c for c in chunks if "适用范围" in c.text)
    assert holder.heading_path == ()  # it closes 一、总体要求 and opens nothing
    assert "各地要" not in holder.text  # 三、工作要求 is still a section of its own
    assert next(c for c in chunks if "各地要" in c.text).heading_path == ("三、工作要求",)
    assert next(c for c in chunks if "无需申请" in c.text).heading_path == ("一、总体要求",)
    assert parse_heading("二、适用范围包括水利建设基金等项目。", "三、工作要求") is None
    assert parse_heading("二、适用范围包括水利建设基金等项目。", "") is None  # nothing after it


def test_a_numbered_heading_followed_by_its_paragraph_stays_a_heading():
    assert parse_heading("（一）经济运行顶住压力、稳中有进。", "强化经济运行分析研究，出台稳增长政策32项。").text == "（一）经济运行顶住压力、稳中有进"
    assert parse_heading("一、总体要求", "（一）指导思想").text == "一、总体要求"  # a deeper heading follows
    assert parse_heading("(二)推动政策精准落地。充分发挥…", "").run_in


def test_a_numbered_list_is_the_text_of_its_section():
    text = "关于免申即享政策的通知\n\n各单位：\n\n（一）免申即享政策\n\n1.水利建设基金\n2.文化事业建设费\n3.失业保险稳岗返还\n\n（二）其他\n\n另行通知。\n"
    chunks = chunk_document(document_from_bytes(text.encode(), "list.txt"))
    holder = next(c for c in chunks if "水利建设基金" in c.text)
    assert holder.heading_path == ("（一）免申即享政策",)
    assert "文化事业建设费" in holder.text and "失业保险稳岗返还" in holder.text


def test_a_closing_quote_stays_with_its_sentence():
    from rag.text.sentences import split_sentences

    text = "他说：“我们会做好。”然后离开。"
    assert [text[a:b] for a, b in split_sentences(text)] == ["他说：“我们会做好。”", "然后离开。"]
    longer = "办法（试行）。" + text
    assert [longer[a:b] for a, b in split_sentences(longer)][0] == "办法（试行）。"
    doc = Document(doc_id="q.txt", title="", text=("他说：“我们会做好。”然后离开。" * 30), content_hash="x")
    for chunk in chunk_document(doc, ChunkSettings(size=50, overlap=0)):
        assert not chunk.text.startswith("”")
