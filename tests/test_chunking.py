from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEED_FILE
from rag.chunking import chunk_document
from rag.config import ChunkSettings
from rag.errors import DocumentError
from rag.headings import parse_heading
from rag.loading import document_from_bytes
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
