"""What a Chinese question asks for: its kind, its content terms, and follow-up handling.

>>> analyse_question("免申即享包括哪些政策?").kind.value
'list'
>>> analyse_question("规上民营工业增加值增长了多少?").expects.value
'number'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from rag.ingest.govdoc import FIELD_SYNONYMS
from rag.text.places import named_places, named_years
from rag.text.segment import char_bigrams, normalise

LIST_CUES = ("哪些", "有哪", "包括", "包含", "哪几", "几项", "几个方面", "分别", "列举", "措施", "举措")
FACTOID_CUES = (
    "多少",
    "几",
    "何时",
    "什么时候",
    "哪年",
    "哪一年",
    "哪天",
    "哪里",
    "哪儿",
    "何地",
    "哪个",
    "哪位",
    "哪家",
    "谁",
    "什么",
    "啥",
    "叫",
    "名称",
    "多久",
    "多长",
    "多大",
    "多高",
    "哪一",
    "何",
    "是否",
    "有没有",
    "哪",
)
# Why and how questions are answered by a sentence, not a phrase (为什么 is not a 什么 question);
# an answer to a why-question may be a consequence quoted with its cause (compose.with_discourse).
WHY_CUES = ("为什么", "为何")
REASON_CUES = (*WHY_CUES, "怎么", "怎样", "如何")
# Words that shape a question but carry no content; removed before matching against documents.
_QUESTION_WORDS = (
    "请问",
    "请",
    "哪些",
    "哪几",
    "哪个",
    "哪位",
    "哪家",
    "哪里",
    "哪儿",
    "哪一",
    "哪",
    "什么",
    "啥",
    "多少",
    "如何",
    "怎么",
    "怎样",
    "怎么样",
    "是否",
    "有没有",
    "是不是",
    "吗",
    "呢",
    "吧",
    "呀",
    "么",
    "何时",
    "为何",
    "为什么",
    "有关",
    "关于",
    "方面",
    "的",
    "了",
    "是",
    "有",
    "和",
    "与",
    "及",
    "在",
    "对",
    "把",
    "被",
    "都",
    "也",
    "包括",
    "包含",
    "分别",
    "主要",
    "具体",
    "一下",
    "告诉",
    "我",
    "你",
    "们",
    "这",
    "那",
    "其",
    "它",
    "该",
    "叫",
)
_QUESTION_WORDS_RE = re.compile("|".join(sorted(map(re.escape, _QUESTION_WORDS), key=len, reverse=True)))
# What the answering sentence says when the question asks about a name, a death, a birth, a place…:
# Chinese states these with a few fixed words that the question itself seldom uses
# (`去世的时间` → `卒于`, `又可以叫什么` → `又称`, `在什么地方` → `位于`).
PREDICATE_CUES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (re.compile(asked), re.compile(stated))
    for asked, stated in (
        (
            r"又称|又名|别称|别名|也叫|又叫|还叫|称为什么|称作什么|被称|又可以叫|也可以叫|俗称|简称",
            r"又称|又名|别称|别名|也称|也叫|又叫|简称|俗称|通称|亦称|或称|称为|称作|被称",
        ),
        (r"去世|逝世|死|卒|离世", r"卒|逝世|去世|病逝|死于|死|殁|遇害|离世"),
        (r"出生|生于|诞生", r"生于|出生|诞生"),
        (r"本名|原名|真名|本来的名字|原来的名字", r"本名|原名|原称|本姓|真名"),
        (r"位于|在哪|什么地方|什么位置|地址|哪里|何处|坐落|哪儿", r"位于|地处|坐落|座落"),
        (r"创立|创办|成立|创建|建立|建造|兴建", r"创立|创办|成立|创建|建立|建于|兴建|始建"),
        (r"意思|含义|意义|意为|什么意|由来|得名|命名", r"意为|意思|意指|意即|之意|得名|命名|源于|源自|来自"),
        (r"作者|写的|著作|创作|谁写|谁著|作品|代表作|写过", r"作者|所著|著有|撰写|创作|编著|写成|编写|作品|代表作"),
        (r"哪里人|什么地方人|何地人|何处人|哪国人|籍贯|祖籍|出身", r"人[。，；]|籍贯|祖籍|原籍|出身"),
        (r"作用|用途|用处|功能|功用|价值", r"用于|用来|用作|可作|以便|有助于"),
        (r"民族|什么族|哪个族", r"族"),
        (r"颜色|什么色", r"色"),
    )
)
QUESTION_END = "?？。 "  # what may close a question after its last word
_FOLLOW_UP_START = ("那", "那么", "还有", "此外", "另外", "它", "其", "该", "这个", "这些", "那个", "那些", "和", "以及")


class Kind(StrEnum):
    LIST = "list"  # 哪些…: the answer is an enumeration
    FACTOID = "factoid"  # 多少, 何时, 谁, 叫什么…: a phrase
    GENERAL = "general"  # why, how, or no question word: a sentence


class Expects(StrEnum):
    """What a factoid's answer must look like, when its question word says so."""

    NUMBER = "number"  # 多少, 几, 多久, 多长, 多大, 多高
    DATE = "date"  # 何时, 什么时候, 哪年, 哪一年, 哪天
    TITLE = "title"  # 叫什么, 名称, 全称
    ANY = "any"


# The question words that stand where the answer stands (`…是哪一年成立的` → the year): the rule
# reader's span aligns the question around them (span.py), longest and most specific first.
ANSWER_SLOT_CUES = (
    "哪一年",
    "什么时候",
    "多少",
    "哪些",
    "哪个",
    "哪位",
    "哪家",
    "哪里",
    "哪儿",
    "哪年",
    "哪天",
    "什么",
    "何时",
    "哪",
    "谁",
    "几",
    "多久",
    "多长",
    "多大",
    "啥",
)

COUNT_CUES = ("多少", "几")  # a count: a year (2023年) is not the answer when another number is there
NUMBER_CUES = (*COUNT_CUES, "多久", "多长", "多大", "多高")
DATE_CUES = ("何时", "什么时候", "哪年", "哪一年", "哪天")


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    kind: Kind
    terms: tuple[str, ...]  # content terms (character unigrams and bigrams), question words removed
    cue: str  # the question word found ("哪些", "多少", ...), "" if none
    stated: tuple[re.Pattern[str], ...] = ()  # how an answering sentence states it (PREDICATE_CUES)
    names: tuple[str, ...] = ()  # places and years it names (台北, 2024): its answer's document must name them too

    @property
    def expects(self) -> Expects:
        """The answer type the question word asks for (the rule reader's bonus and its span read it)."""
        if self.kind != Kind.FACTOID:
            return Expects.ANY
        return expected_type(self.text, self.cue)

    @property
    def elliptical(self) -> bool:
        """No question word of its own (`那下一步呢?`, not `为什么呢?`): as a follow-up it asks what
        the previous question asked, about its own words."""
        return self.kind == Kind.GENERAL and not self.cue


def expected_type(text: str, cue: str) -> Expects:
    if cue in NUMBER_CUES:
        return Expects.NUMBER
    if cue in DATE_CUES:
        return Expects.DATE
    if "叫什么" in text or cue in ("叫", "名称") or "名称" in text or "全称" in text:
        return Expects.TITLE
    return Expects.ANY


def content_text(question: str) -> str:
    """The question with question words and stop words blanked out: `免申即享包括哪些政策` → `免申即享  政策`."""
    return _QUESTION_WORDS_RE.sub(" ", normalise(question))


def analyse_question(question: str) -> QuestionAnalysis:
    text = normalise(question)
    kind, cue = Kind.GENERAL, ""
    for candidate in LIST_CUES:
        if candidate in text:
            kind, cue = Kind.LIST, candidate
            break
    else:
        cue = next((c for c in REASON_CUES if c in text), "")  # a why/how question stays general
        if not cue:
            # 几乎 (almost), 几何 (geometry), 几率 (odds) ask no number
            words = re.sub("几(?=[乎何率])", "·", text)
            kind, cue = next(((Kind.FACTOID, c) for c in FACTOID_CUES if c in words), (Kind.GENERAL, ""))
    content = content_text(question)
    for alias, canonical in FIELD_SYNONYMS.items():
        if alias in text:
            content += " " + canonical
    terms = tuple(dict.fromkeys(char_bigrams(content)))
    stated = tuple(sentence for asked, sentence in PREDICATE_CUES if asked.search(text))
    names = named_places(question) + named_years(question)
    return QuestionAnalysis(text=question, kind=kind, terms=terms, cue=cue, stated=stated, names=names)


def is_follow_up(question: str) -> bool:
    """Short or elliptical questions ("那数字化转型方面呢?", "实施方案叫什么?") lean on the previous one."""
    text = normalise(question).strip()
    content = re.sub(r"\s+", "", content_text(question))
    return text.startswith(_FOLLOW_UP_START) or text.rstrip(QUESTION_END).endswith("呢") or len(content) <= 6
