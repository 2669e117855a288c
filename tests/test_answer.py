"""Which sentences the answer step quotes (rag/read/rules/extractor.py, rag/read/compose.py): topics, headings and discourse."""

from __future__ import annotations

from rag.read.compose import _count_of
from rag.read.rules.extractor import AnswerExtractor
from rag.read.rules.scoring import lead_subject
from rag.types import Answer, Chunk, Document, Passage


def answer(question: str, text: str, title: str = "d", doc_id: str = "d.txt") -> Answer:
    doc = Document(doc_id, title, text, "h", body_spans=((0, len(text)),))
    passage = Passage(Chunk(f"{doc_id}#0", doc_id, 0, len(text), text), score=1.0, rank=1)
    return AnswerExtractor({doc_id: doc}, idf=lambda term: 1.0).answer(question, [passage])


SPECIES = (
    "短叶水蜈蚣（学名：），别名无头土香、白香附、散寒草、金钮草、三荚草，是莎草科水蜈蚣属的植物。"
    "分布在美洲、印度尼西亚、菲律宾、越南、非洲热带以及中国大陆的四川、贵州、浙江等地。"
)


def test_an_encyclopedic_text_opens_with_its_topic():
    doc = Document("x.txt", "x", SPECIES, "h", body_spans=((0, len(SPECIES)),))
    assert lead_subject(doc) == "短叶水蜈蚣"
    for prose in ("近年来，我省持续优化营商环境。", "根据《中华人民共和国公司法》，制定本办法。", "• 索 引 号:FJ00103"):
        assert lead_subject(Document("y.txt", "y", prose, "h")) == ""  # ordinary prose opens with no name


def test_a_sentence_without_its_subject_is_about_the_topic():
    # the subject's name is only in the first sentence; the second omits it, as Chinese does
    got = answer("短叶水蜈蚣分布在哪些地区?", SPECIES, title="TRIAL_1")
    assert got.sentences[0].text.startswith("分布在美洲")


def test_a_title_line_is_context_not_an_answer():
    text = "# 乌石渔港\n\n乌石渔港是位于台湾宜兰县头城镇的观光渔港。"
    got = answer("乌石渔港在哪里?", text, title="乌石渔港", doc_id="d.md")
    assert got.sentences[0].text.startswith("乌石渔港是位于台湾宜兰县头城镇")


def test_an_announcing_sentence_is_quoted_with_what_it_announces():
    text = "乡里制是古代基层组织。其特点主要有以下三点：第一，职官与长者并用。第二，刑禁与教化并施。第三，秩序制和晋升制于一体。乡里组织后来瓦解。"
    quoted = answer("乡里制的特点是什么?", text).sentences[0].text
    assert quoted.startswith("其特点主要有以下三点") and quoted.endswith("秩序制和晋升制于一体。")
    items = "主要措施如下：\n一是减免租金；\n二是发放补贴。\n\n其他事项另行通知。"
    quoted = answer("主要措施有哪些?", items).sentences[0].text
    assert quoted.endswith("二是发放补贴。")  # items on their own lines belong to the list; the next paragraph does not


def test_a_why_question_answered_by_a_consequence_gets_its_cause():
    text = "猴面包树的果实钙含量比菠菜高50%以上，维生素C含量是橙子的三倍。因此它有时也被称为笨蛋水果。它的叶子可以吃。"
    got = answer("为什么称猴面包树为笨蛋水果?", text)
    assert got.sentences[0].text.startswith("猴面包树的果实钙含量") and "笨蛋水果" in got.sentences[0].text
    assert "钙含量" in got.span


def test_the_sentence_that_states_the_asked_predicate_answers():
    text = "朱守谦是明朝宗室。洪武十三年召朱守谦返还京师，戒谕他。洪武二十五年正月卒。"
    assert answer("朱守谦去世的时间是哪一年?", text).sentences[0].text == "洪武二十五年正月卒。"
    other = "鲤鱼门天后庙建于山脚近海滨处，祀奉天后。鲤鱼门天后庙，又称鲤鱼门天后宫，是香港一所天后庙。"
    assert "又称" in answer("鲤鱼门天后庙又可以叫什么名字?", other).sentences[0].text


def assert_quotes_are_slices(got: Answer, text: str) -> None:
    for c in got.citations:
        assert text[c.start : c.end] == c.quote and c.passage.chunk.start <= c.start < c.end <= c.passage.chunk.end


def test_a_list_on_its_own_lines_is_quoted_to_the_end_of_its_last_item():
    text = "为支持企业发展，有以下两项措施：\n（一）减免租金。免除三个月房租。\n（二）发放补贴。补贴标准另定。\n其他事项另行通知。"
    got = answer("支持企业发展有哪些措施?", text)
    assert got.sentences[0].text.endswith("补贴标准另定。") and "其他事项" not in got.text
    assert_quotes_are_slices(got, text)


def test_labels_and_article_references_do_not_announce_lists():
    text = "本事项办理地点：福州市行政服务中心三楼。办理时限为5个工作日。\n3.5亿元资金已经下达。"
    got = answer("办理地点在哪里?", text)
    assert got.sentences[0].text == "本事项办理地点：福州市行政服务中心三楼。"
    article = "根据本条例第三条规定：企业应当按时申报。逾期不报的，依法处理。"
    assert answer("企业应当做什么?", article).sentences[0].text == "根据本条例第三条规定：企业应当按时申报。"


def test_announced_counts_are_read_as_numbers():
    assert [_count_of(n) for n in ("三", "两", "十", "十二", "二十", "二十三", "12", "几", "")] == [3, 2, 10, 12, 20, 23, 12, 0, 0]
