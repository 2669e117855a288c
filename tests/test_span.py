"""The most specific answering phrase inside an answer sentence (rag/span.py)."""

from __future__ import annotations

from rag.read.question import analyse_question
from rag.read.rules.span import best_span


def span(question: str, sentence: str) -> str:
    return best_span(analyse_question(question), sentence)


def test_question_aligned_with_the_sentence_gives_the_phrase_in_the_gap():
    assert span("《战国无双3》是由哪两个公司合作开发的?", "《战国无双3》是由光荣和ω-force合作开发的动作游戏。") == "光荣和ω-force"


def test_count_takes_the_number_nearest_the_question_words():
    sentence = "开展惠企政策进百园入万企活动23场和6场政策对接会。"
    assert span("政策对接会开了几场?", sentence) == "6场"


def test_a_year_is_not_a_count_when_another_number_is_there():
    assert span("一共受理了多少封企业信件?", "2023年,共受理企业来信4656件,办结率100%。") == "4656件"


def test_full_name_question_takes_the_title():
    sentence = "印发《福建省惠企政策“免申即享”实施方案(试行)》,公布两批目录清单。"
    assert span("免申即享实施方案的全称是什么?", sentence) == "《福建省惠企政策“免申即享”实施方案(试行)》"


def test_without_a_phrase_or_type_the_sentence_less_its_restatement_answers():
    sentence = "由于蒸汽机逐渐被内燃机所淘汰,1990年横道河子机车库停止使用。"
    assert span("为什么1990年横道河子机车库停止使用?", sentence) == "由于蒸汽机逐渐被内燃机所淘汰"


def test_span_is_always_a_substring_of_the_sentence():
    sentence = "免征部分行业地方水利建设基金、减征文化事业建设费、省技改项目融资支持、失业保险稳岗返还等政策纳入范围。"
    for question in ("免申即享包括哪些政策?", "什么纳入了范围?", "怎么办理?", "多少项政策?"):
        found = span(question, sentence)
        assert found and found.strip() and found in sentence, (question, found)


def test_a_why_follow_up_keeps_its_own_question_type():
    from rag.read.rules.extractor import AnswerExtractor
    from rag.types import Chunk, Document, Passage

    text = "补贴标准提高到每人500元,原因是物价上涨较快。"
    doc = Document("d.txt", "补贴说明", text, "h")
    passage = Passage(Chunk("d.txt#0", "d.txt", 0, len(text), text), score=1.0, rank=1)
    extractor = AnswerExtractor({"d.txt": doc}, idf=lambda term: 1.0)
    count = extractor.answer("补贴提高到多少?", [passage])
    assert "500元" in count.span
    why = extractor.answer("为什么提高呢?", [passage], context_question="补贴提高到多少?")
    assert not why.refused and "物价上涨" in why.span  # a reason, not the 多少 span of the question before


def test_a_span_that_begins_inside_a_parenthesis_drops_its_tail_and_the_naming_verb():
    sentence = '赤尾青竹丝（学名："Trimeresurus" "stejnegeri"）又名福建竹叶青，是一种毒蛇。'
    assert span("赤尾青竹丝又叫做什么？", sentence) == "福建竹叶青"
    sentence = "2008年度香港小姐竞选（第36届）是电视广播有限公司举办的选美活动。"
    assert span("2008年度香港小姐竞选是由哪个单位举行的？", sentence) == "电视广播有限公司举办的选美活动"


def test_a_defining_verb_before_the_gap_is_not_part_of_the_answer():
    assert span("在中世纪神学中，失范是什么意思？", "在中世纪神学中，失范指不守法而亵渎神灵。") == "不守法而亵渎神灵"


def test_a_when_question_takes_the_date_out_of_a_wider_gap():
    assert span("张舒雅是哪一年香港小姐冠军？", "张舒雅，香港模特儿，2008年香港小姐冠军。") == "2008年"
