"""Answers as the web chat shows them. Every piece of document text is HTML-escaped here, so markup
inside documents (`<script>`, `<img onerror=…>`) is displayed as text, never executed."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from rag.faq import FAQ_KIND, faq_id
from rag.ingest.govdoc import SHOWN_FIELDS
from rag.serve.source import open_button
from rag.types import Answer, AnswerSentence, Chunk, Citation, Document


def escape_chat(text: str) -> str:
    """Chat bubbles are set as HTML by Gradio even without Markdown: escape, keep line breaks."""
    return escape(text).replace("\n", "<br>")


def _sentence_html(sentence: AnswerSentence, escape_text: Callable[[str], str] = escape_chat) -> str:
    """The sentence escaped, its answering span in bold when it is narrower than the sentence."""
    where = sentence.narrower_span()
    if where is None:
        return escape_text(sentence.text)
    a, b = where
    text = sentence.text
    return escape_text(text[:a]) + f'<strong class="span">{escape_text(text[a:b])}</strong>' + escape_text(text[b:])


def chat_text(answer: Answer) -> str:
    """The chat bubble (escaped HTML): the answer with its [n] marks and each sentence's answering
    span in bold, then one source line per citation."""
    lines = []
    if answer.notice:
        lines.append(escape_chat(f"（{answer.notice}）"))
    if answer.refused or not answer.sentences:
        lines.append(escape_chat(answer.text))
        for i, p in enumerate(answer.passages[:3], start=1):
            lines.append(escape_chat(f"（{i}）{p.chunk.text[:60]}…"))
    else:
        lines.append(("" if len(answer.sentences) == 1 else "<br>").join(f"{_sentence_html(x)}[{x.citation}]" for x in answer.sentences))
        lines.append("")
        lines.append("来源：")
        for c in answer.citations:
            if c.kind == FAQ_KIND:  # the operator's curated answer (rag/faq), marked as such
                lines.append(escape_chat(faq_source_line(c)))
                continue
            lines.append(escape_chat(f"[{c.number}] {c.title}" + (f" · {c.heading}" if c.heading else "")))
    if answer.suggestions:
        lines.append("")
        lines.append(f'<span class="faq-suggestions">{escape_chat(suggestions_line(answer))}</span>')
    return "<br>".join(lines)


def suggestions_line(answer: Answer) -> str:
    """`您是否想问：身份证丢失了如何补办？（常见问题 FAQ #1）；…` (the chat and `rag ask`)."""
    return "您是否想问：" + "；".join(f"{s.question}（常见问题 FAQ #{s.faq_id}）" for s in answer.suggestions)


def _passage_html(doc: Document, start: int, end: int, quote_start: int | None, quote_end: int | None, sentence: AnswerSentence | None = None) -> str:
    text = doc.text
    if quote_start is None or quote_end is None or not (start <= quote_start <= quote_end <= end):
        return escape(text[start:end])
    quote = _sentence_html(sentence, escape) if sentence is not None and sentence.text == text[quote_start:quote_end] else escape(text[quote_start:quote_end])
    return escape(text[start:quote_start]) + f'<mark class="answer">{quote}</mark>' + escape(text[quote_end:end])


def _bold_span(doc: Document, quote_start: int, quote_end: int, sentence: AnswerSentence | None) -> tuple[int, int] | None:
    """The answer's bold span in document offsets, when the quote is the sentence (as the card shows it)."""
    if sentence is None or sentence.text != doc.text[quote_start:quote_end]:
        return None
    where = sentence.narrower_span()
    return None if where is None else (quote_start + where[0], quote_start + where[1])


def _meta_html(doc: Document) -> str:
    items = [(k, v) for k, v in doc.metadata if k in SHOWN_FIELDS]
    if not items:
        return ""
    return '<div class="meta">' + " · ".join(f"{escape(k)}：{escape(v)}" for k, v in items) + "</div>"


def faq_source_line(c: Citation) -> str:
    """`[1] 常见问题 FAQ #3：身份证丢失了如何补办？ · 来源：公安局 · 文号：…`"""
    return f"[{c.number}] 常见问题 FAQ #{faq_id(c)}：{c.title}" + "".join(f" · {k}：{v}" for k, v in c.metadata)


def _faq_card(c: Citation) -> str:
    meta = "".join(f'<div class="meta">{escape(k)}：{escape(v)}</div>' for k, v in c.metadata)
    return (
        f'<div class="citation faq"><div class="title">[{c.number}] 常见问题 FAQ #{faq_id(c)}</div>'
        f'<div class="heading">{escape(c.title)}</div>{meta}<blockquote class="passage">{escape(c.quote)}</blockquote></div>'
    )


def citations_html(answer: Answer | None, documents: dict[str, Document]) -> str:
    if answer is None:
        return '<div class="citations empty">提问后，这里显示答案引用的原文段落。</div>'
    parts = ['<div class="citations">']
    if answer.refused:
        parts.append('<div class="refused">文档中没有找到答案。最接近的段落：</div>')
        cards: list[tuple[int | None, Chunk, int | None, int | None, AnswerSentence | None]] = [(None, p.chunk, None, None, None) for p in answer.passages[:3]]
    else:
        sentences = {x.citation: x for x in answer.sentences}
        cards = [(c.number, c.passage.chunk, c.start, c.end, sentences.get(c.number)) for c in answer.citations]
    if not answer.refused:
        parts.extend(_faq_card(c) for c in answer.citations if c.kind == FAQ_KIND)
    for number, chunk, q_start, q_end, sentence in cards:
        doc = documents.get(chunk.doc_id)
        if doc is None:
            continue
        label = f"[{number}] " if number is not None else ""
        parts.append('<div class="citation">')
        parts.append(f'<div class="title">{escape(label)}{escape(doc.title)}</div>')
        if chunk.heading:
            parts.append(f'<div class="heading">{escape(chunk.heading)}</div>')
        parts.append(_meta_html(doc))
        page = doc.page_of(q_start if q_start is not None else chunk.start)
        where = f" · 第 {page} 页" if page else ""
        parts.append(f'<div class="source">{escape(doc.doc_id)}{where} · 字符 {chunk.start}–{chunk.end}</div>')
        parts.append(f'<blockquote class="passage">{_passage_html(doc, chunk.start, chunk.end, q_start, q_end, sentence)}</blockquote>')
        if q_start is not None and q_end is not None:
            parts.append(open_button(doc.doc_id, q_start, q_end, _bold_span(doc, q_start, q_end, sentence)))
        else:
            parts.append(open_button(doc.doc_id, chunk.start, chunk.end))
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def documents_table(rows) -> list[list[str | int]]:
    """Rows for the knowledge-base table (plain values: the table shows them as text)."""
    return [[r.doc_id, r.title, r.chunks] for r in rows]


CSS = """
.citations .citation { border: 1px solid #ddd; border-radius: 8px; padding: 10px; margin-bottom: 10px; }
.citations .title { font-weight: 600; }
.citations .heading, .citations .meta, .citations .source { color: #666; font-size: 0.9em; }
.citations blockquote { margin: 6px 0 0 0; white-space: pre-wrap; }
.citations mark.answer { background: #ffe58f; }
.citations .refused { color: #a8071a; margin-bottom: 8px; }
"""


# JSON: `ask --json` and the web API's /ask


def citation_json(c) -> dict:
    return {
        "n": c.number,
        "doc": c.doc_id,
        "title": c.title,
        "heading": c.heading,
        "quote": c.quote,
        "start": c.start,
        "end": c.end,
        "metadata": dict(c.metadata),
        "page": c.page,
        "kind": c.kind,  # "document", or "faq": an FAQ entry (doc "faq#<id>", title its question, quote its answer)
    }


def passage_json(p, documents) -> dict:
    doc = documents[p.chunk.doc_id]
    return {
        "doc": p.chunk.doc_id,
        "title": doc.title,
        "heading": p.chunk.heading,
        "text": p.chunk.text,
        "start": p.chunk.start,
        "end": p.chunk.end,
        "score": round(p.score, 6),
        "dense_score": None if p.dense_score is None else round(p.dense_score, 6),
        "bm25_score": None if p.lexical_score is None else round(p.lexical_score, 6),
    }


def answer_json(answer, documents) -> dict:
    """The reply of `ask --json` and of the web API. `documents`: the index snapshot the answer came
    from (doc id → Document)."""
    return {
        "question": answer.question,
        "answer": answer.text,
        "refused": answer.refused,
        "span": answer.span,
        "notice": answer.notice,
        "citations": [citation_json(c) for c in answer.citations],
        "passages": [passage_json(p, documents) for p in answer.passages] if answer.refused else [],
        "suggestions": [{"faq_id": s.faq_id, "question": s.question} for s in answer.suggestions],  # 您是否想问 (rag/faq)
    }


def error_json(question: str, text: str, notice: str) -> dict:
    """An answer that could not be made, in the same shape as `answer_json` (one shape for clients)."""
    return {"question": question, "answer": text, "refused": True, "span": "", "notice": notice, "citations": [], "passages": [], "suggestions": []}
