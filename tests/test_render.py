"""How the web chat shows an answer: the answering span in bold inside its sentence, in the chat and
in the cited passage, and every piece of document text escaped."""

from __future__ import annotations

from rag.render import chat_text, citations_html
from rag.types import Answer, AnswerSentence, Chunk, Citation, Document, Passage

TEXT = "标题\n将免征水利建设基金、减征文化事业建设费等政策纳入<b>范围</b>。其他内容。"


def _answer(span: str) -> tuple[Answer, dict[str, Document]]:
    doc = Document(doc_id="d.txt", title="答复", text=TEXT, content_hash="x")
    chunk = Chunk(chunk_id="d.txt#0", doc_id="d.txt", start=3, end=len(TEXT), source=TEXT)
    start = TEXT.index("将")
    end = TEXT.index("。") + 1
    sentence = TEXT[start:end]
    citation = Citation(1, "d.txt", "答复", "", sentence, start, end, Passage(chunk, 1.0, rank=1))
    answer = Answer("哪些政策?", f"{sentence}[1]", False, (citation,), (AnswerSentence(sentence, 1, span, 1.0),))
    return answer, {"d.txt": doc}


def test_the_span_is_bold_inside_its_sentence_in_chat_and_citation():
    answer, documents = _answer("水利建设基金、减征文化事业建设费")
    chat = chat_text(answer)
    assert '将免征<strong class="span">水利建设基金、减征文化事业建设费</strong>等政策纳入&lt;b&gt;范围&lt;/b&gt;。[1]' in chat
    assert "来源：" in chat and "<b>" not in chat
    panel = citations_html(answer, documents)
    assert '<mark class="answer">将免征<strong class="span">水利建设基金、减征文化事业建设费</strong>等政策' in panel
    assert "<b>" not in panel


def test_markup_inside_the_span_stays_text():
    answer, documents = _answer("<b>范围</b>")
    assert '<strong class="span">&lt;b&gt;范围&lt;/b&gt;</strong>' in chat_text(answer)
    assert '<strong class="span">&lt;b&gt;范围&lt;/b&gt;</strong>' in citations_html(answer, documents)


def test_a_span_that_is_the_whole_sentence_is_not_marked():
    answer, _ = _answer(answer_sentence := TEXT[TEXT.index("将") : TEXT.index("。") + 1])
    assert answer_sentence in answer.text
    assert "<strong" not in chat_text(answer)


def test_a_refusal_lists_the_nearest_passages_escaped():
    _, documents = _answer("")
    chunk = Chunk(chunk_id="d.txt#0", doc_id="d.txt", start=3, end=len(TEXT), source=TEXT)
    refused = Answer("火星?", "未在文档中找到相关内容。", True, passages=(Passage(chunk, 0.1, rank=1),))
    chat = chat_text(refused)
    assert chat.startswith("未在文档中找到相关内容。<br>（1）将免征") and "&lt;b&gt;" in chat and "<strong" not in chat
