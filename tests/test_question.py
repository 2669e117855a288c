"""Question analysis: kind, expected answer type, content terms, follow-ups — computed once in
question.py and read by both the rule reader's scoring and its span finder."""

from __future__ import annotations

import doctest

import pytest

import rag.read.question
from rag.read.question import Expects, Kind, analyse_question, content_text, is_follow_up
from rag.read.rules.span import _typed_pattern


@pytest.mark.parametrize(
    "question,kind,expects",
    [
        ("免申即享包括哪些政策?", Kind.LIST, Expects.ANY),
        ("规上民营工业增加值增长了多少?", Kind.FACTOID, Expects.NUMBER),
        ("狼山有多高?", Kind.FACTOID, Expects.NUMBER),  # 多高 was a number in one cue list only
        ("范廷颂是什么时候被任为主教的？", Kind.FACTOID, Expects.DATE),
        ("该方案的全称是什么?", Kind.FACTOID, Expects.TITLE),  # 全称/名称 were titles in one list only
        ("这个机构的名称是什么?", Kind.FACTOID, Expects.TITLE),
        ("实施方案叫什么?", Kind.FACTOID, Expects.TITLE),
        ("为什么要推行免申即享?", Kind.GENERAL, Expects.ANY),  # 为什么 is not a 什么 question
        ("下一步如何加强企业权益保护?", Kind.GENERAL, Expects.ANY),
        ("介绍一下免申即享", Kind.GENERAL, Expects.ANY),
    ],
)
def test_kind_and_expected_type(question, kind, expects):
    analysis = analyse_question(question)
    assert (analysis.kind, analysis.expects) == (kind, expects)


def test_the_span_finder_reads_the_same_expected_type():
    from rag.read.rules.span import DATE, NUMBER, TITLE

    for question, pattern in (("狼山有多高?", NUMBER), ("哪一年提出的?", DATE), ("全称是什么?", TITLE), ("谁提出的?", None)):
        assert _typed_pattern(analyse_question(question)) is pattern


def test_content_terms_drop_question_words_and_add_field_synonyms():
    content = content_text("免申即享包括哪些政策?")
    assert "哪些" not in content and "免申即享" in content and "政策" in content
    terms = analyse_question("这份答复的发文字号是什么?").terms
    assert "文号" in terms  # the name the documents use
    assert not any("哪些" in t or "什么" in t for t in analyse_question("免申即享包括哪些政策?").terms)


def test_the_trained_reader_asks_for_a_header_field_by_the_documents_name():
    from rag.ingest.govdoc import in_their_words

    header = "• 文号:闽工信提案〔2024〕30号\n• 发布机构:福建省工业和信息化厅"
    assert in_their_words("这份答复的发文字号是多少?", header) == "这份答复的文号是多少?"
    assert in_their_words("发文单位是哪个?", header) == "发布机构是哪个?"
    gov_cn = "发文机关:国务院\n发文字号:国发〔2024〕7号"  # names the text uses itself stay
    assert in_their_words("发文字号是多少?发文机关是哪个?", gov_cn) == "发文字号是多少?发文机关是哪个?"
    assert in_their_words("印发日期是哪天?", "正文里没有表头") == "印发日期是哪天?"


def test_follow_ups():
    assert is_follow_up("那数字化转型方面呢?") and is_follow_up("下一步呢?")
    assert not is_follow_up("全省成立了多少个中小企业公共服务机构?")


def test_module_examples():
    assert doctest.testmod(rag.read.question).failed == 0
