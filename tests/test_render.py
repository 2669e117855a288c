"""How the web chat shows an answer: the answering span in bold inside its sentence, in the chat and
in the cited passage, and every piece of document text escaped."""

from __future__ import annotations

from rag.serve.render import chat_text, citations_html
from rag.types import Answer, AnswerSentence, Chunk, Citation, Document, Passage

TEXT = "标题\n将免征水利建设基金、减征文化事业建设费等政策纳入<b>范围</b>。2019年预算为100万元，2020年预算为100万元。\n一是<i>减税</i>；"


def _sentence(text: str, span: str, number: int = 1, at: int | None = None) -> AnswerSentence:
    return AnswerSentence(text, number, span, 1.0, text.find(span) if at is None else at)


def _answer(*sentences: AnswerSentence, notice: str = "") -> tuple[Answer, dict[str, Document]]:
    doc = Document(doc_id="d.txt", title="答复<i>", text=TEXT, content_hash="x")
    chunk = Chunk(chunk_id="d.txt#0", doc_id="d.txt", start=3, end=len(TEXT), source=TEXT, heading_path=("一、<u>工作</u>",))
    citations = []
    for s in sentences:
        start = TEXT.index(s.text)
        citations.append(Citation(s.citation, "d.txt", doc.title, chunk.heading, s.text, start, start + len(s.text), Passage(chunk, 1.0, rank=1)))
    text = "\n".join(f"{s.text}[{s.citation}]" for s in sentences)
    return Answer("问?", text, False, tuple(citations), sentences, notice=notice), {"d.txt": doc}


POLICY = "将免征水利建设基金、减征文化事业建设费等政策纳入<b>范围</b>。"
BUDGET = "2019年预算为100万元，2020年预算为100万元。"


def test_the_span_is_bold_inside_its_sentence_in_chat_and_citation():
    answer, documents = _answer(_sentence(POLICY, "水利建设基金、减征文化事业建设费"))
    chat = chat_text(answer)
    assert '将免征<strong class="span">水利建设基金、减征文化事业建设费</strong>等政策纳入&lt;b&gt;范围&lt;/b&gt;。[1]' in chat
    assert "来源：<br>[1] 答复&lt;i&gt; · 一、&lt;u&gt;工作&lt;/u&gt;" in chat
    panel = citations_html(answer, documents)
    assert '<mark class="answer">将免征<strong class="span">水利建设基金、减征文化事业建设费</strong>等政策' in panel
    assert "<b>" not in chat + panel and "<i>" not in chat + panel and "<u>" not in chat + panel


def test_the_bold_is_where_the_span_was_found_not_its_first_copy():
    answer, documents = _answer(_sentence(BUDGET, "100万元", at=BUDGET.rindex("100万元")))
    expected = '2019年预算为100万元，2020年预算为<strong class="span">100万元</strong>。'
    assert expected in chat_text(answer) and expected in citations_html(answer, documents)


def test_markup_inside_the_span_stays_text():
    answer, documents = _answer(_sentence(POLICY, "<b>范围</b>"))
    assert '<strong class="span">&lt;b&gt;范围&lt;/b&gt;</strong>' in chat_text(answer)
    assert '<strong class="span">&lt;b&gt;范围&lt;/b&gt;</strong>' in citations_html(answer, documents)


def test_a_span_that_is_the_whole_sentence_is_not_marked():
    for span in (POLICY, POLICY.rstrip("。")):  # why-question spans drop the closing punctuation
        answer, documents = _answer(_sentence(POLICY, span))
        assert "<strong" not in chat_text(answer) and "<strong" not in citations_html(answer, documents)


def test_several_sentences_with_line_breaks_and_a_notice():
    items = "一是<i>减税</i>；"
    answer, _ = _answer(
        _sentence(BUDGET, "100万元", at=BUDGET.rindex("100万元")),
        _sentence("2019年预算为100万元，2020年预算为100万元。\n一是<i>减税</i>；".split("\n")[1], "减税", 2),
        notice="问题过长，已截断",
    )
    chat = chat_text(answer)
    assert chat.startswith("（问题过长，已截断）<br>2019年")
    assert '为<strong class="span">100万元</strong>。[1]<br>一是&lt;i&gt;<strong class="span">减税</strong>&lt;/i&gt;；[2]' in chat
    assert items not in chat


def test_a_refusal_lists_the_nearest_passages_escaped():
    chunk = Chunk(chunk_id="d.txt#0", doc_id="d.txt", start=3, end=len(TEXT), source=TEXT)
    refused = Answer("火星?", "未在文档中找到相关内容。", True, passages=(Passage(chunk, 0.1, rank=1),))
    chat = chat_text(refused)
    assert chat.startswith("未在文档中找到相关内容。<br>（1）将免征") and "&lt;b&gt;" in chat and "<strong" not in chat
