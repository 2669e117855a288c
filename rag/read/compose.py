"""How an answer is composed, whichever reader chose its spans: one home for the rules both share.

A reader decides *which* span answers (the rule reader by sentence scores, the trained one by its
span margins); what it quotes around the span, how many quotes, how each is cited, and what a
refusal says are the same for both and live here:

- `Quote` and `cited_answer`: each quote followed by its numbered citation, one line each;
- `refusal`: the answer when the documents do not answer (`NOT_FOUND`, the nearest passages);
- `quote_limit`: a factoid question gets at most two quotes, others `max_sentences`;
- `with_discourse`: a list-announcing sentence brings its items, a 因此-sentence its cause;
- `clause_run`: an over-long sentence is cut to a run of clauses around what answers;
- `balance_brackets`: a quoted span never holds half of a bracket or quotation-mark pair;
- `names_agree`: an answer comes from a document that names the places and years its question names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.read.question import WHY_CUES, Kind, QuestionAnalysis
from rag.text.places import written_forms
from rag.text.script import fold_chars
from rag.text.sentences import BRACKET_PAIRS, CLAUSE_MARKS, split_sentences
from rag.types import Answer, AnswerSentence, Chunk, Citation, Document, Passage

NOT_FOUND = "未在文档中找到相关内容。以下是最接近的段落，供参考："
MAX_SENTENCE_CHARS = 180  # a longer sentence is quoted as a run of its clauses (clause_run)
FACTOID_QUOTES = 2  # a factoid question: its best quote and at most one runner-up


@lru_cache(maxsize=128)
def _folded(text: str) -> str:
    return fold_chars(text)


def in_title_line(document: Document, start: int, end: int) -> bool:
    """Whether text[start:end] lies in the document's first line and that line is its title
    (`臺北市「免申即享」實施要點`, `# 标题`): a title repeats what a question is about, so a reader is
    drawn to it, but it answers only a question asking for a name (Expects.TITLE)."""
    text = document.text
    lo = len(text) - len(text.lstrip())
    hi = text.find("\n", lo)
    hi = len(text) if hi < 0 else hi
    if not (lo <= start and end <= hi) or not document.title:
        return False
    line = text[lo:hi].strip().lstrip("#").strip()
    return bool(line) and (line in document.title or document.title in line)


def names_agree(question: QuestionAnalysis, document: Document) -> bool:
    """Whether `document` (its title or text, in either script) names every place and year the
    question names (`QuestionAnalysis.names`): 臺北市…? is not answered from a document about Fujian
    that never names Taipei, nor a 2024 question from a text that never says 2024."""
    if not question.names:
        return True
    title, text = _folded(document.title), _folded(document.text)
    return all(any(form in title or form in text for form in written_forms(name)) for name in question.names)


def quote_limit(question: QuestionAnalysis, max_sentences: int) -> int:
    """How many quotes an answer to this question may hold."""
    return FACTOID_QUOTES if question.kind is Kind.FACTOID else max_sentences


def refusal(question_text: str, passages: list[Passage], confidence: float = 0.0, notice: str = "") -> Answer:
    """The answer when the documents do not answer: says so and lists the nearest passages."""
    return Answer(question=question_text, text=NOT_FOUND, refused=True, passages=tuple(passages), confidence=confidence, notice=notice)


def clause_run(text: str, start: int, end: int, a: int, b: int, limit: int = MAX_SENTENCE_CHARS) -> tuple[int, int]:
    """`text[a:b]` grown clause by clause (clauses end at ，,；;) on both sides, inside `text[start:end]`,
    while the whole stays within `limit` characters: what is quoted of an over-long sentence."""
    while True:
        # where the clause before `a` begins (the sentence's start when no mark precedes it)
        left = max([text.rfind(c, start, a - 1) for c in CLAUSE_MARKS] + [start - 1]) + 1 if a > start else a
        right_hits = [i for i in (text.find(c, b, end) for c in CLAUSE_MARKS) if i >= 0]
        right = min(right_hits) + 1 if right_hits else end
        grown = False
        if left < a and right - left <= limit:
            a, grown = left, True
        if right > b and right - a <= limit:
            b, grown = right, True
        if not grown:
            return a, b


# A sentence announcing a list: `有以下三点：`, `措施如下：`, `包括三个方面：` (not `第三条规定：`, `办理地点：`)
_NUMERAL = "一二三四五六七八九十两"
_ANNOUNCE = re.compile(
    rf"(?:以下|如下|下列)([{_NUMERAL}\d]*)[^。；;：:]{{0,8}}[：:]"
    rf"|(?<![第{_NUMERAL}\d])([{_NUMERAL}\d]+)(?:个方面|个|点|项|类|种|条)[^。；;：:]{{0,6}}[：:]"
)
# A list item: 一是…, 第一，…, （一）…, 1. / 1、… (not a decimal such as 3.5亿元), or a bullet
_ITEM = re.compile(r"[一二三四五六七八九十]+是|第[一二三四五六七八九十]+[，,、]|[（(]?[一二三四五六七八九十\d]+[）)、.．](?!\d)|[-*•●·]\s?")
_CONSEQUENCE = re.compile(r"(?:因此|所以|因而|于是|故而|从而|由此|因为这样|这使|这让)")


_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _count_of(numeral: str) -> int:
    """`三` → 3, `十二` → 12, `二十` → 20, `12` → 12, `二十三` → 23; 0 when there is no count (`以下`, `几`)."""
    if numeral.isdigit():
        return int(numeral)
    if numeral in _DIGITS:
        return _DIGITS[numeral]
    tens, sep, ones = numeral.partition("十")
    if not sep or (tens and tens not in _DIGITS) or (ones and ones not in _DIGITS):
        return 0
    return 10 * (_DIGITS[tens] if tens else 1) + (_DIGITS[ones] if ones else 0)


def with_discourse(doc_text: str, chunk: Chunk, question: QuestionAnalysis, start: int, end: int) -> tuple[int, int]:
    """A sentence that announces what follows (`其特点主要有以下三点：`) is quoted with what follows;
    one that draws a consequence (`因此它被称为…`) answers a why-question with its cause, the
    sentence before. Both stay inside the cited passage."""
    spans = split_sentences(chunk.text, chunk.start)
    sentence = doc_text[start:end]
    lead_in = sentence.rstrip().endswith(("：", ":"))
    announced = _ANNOUNCE.search(sentence)
    # `…三点：第一，…。` — the first item may follow the colon inside the sentence itself
    inline_item = bool(announced and _ITEM.match(sentence[announced.end() :].lstrip()))
    if lead_in or inline_item:
        count = _count_of(announced.group(1) or announced.group(2) or "") if announced else 0
        items, own_lines = int(inline_item), False
        for n, (a, b) in enumerate(s for s in spans if s[0] >= end):
            is_item = bool(_ITEM.match(doc_text[a:b]))
            new_line = "\n" in doc_text[end:a]
            if b - start > 2 * MAX_SENTENCE_CHARS or (new_line and not is_item and not (n == 0 and lead_in)):
                break
            if count and items >= count and (is_item or not own_lines or new_line):
                break  # the last announced item ends with its line (or, written inline, its sentence)
            items += is_item
            own_lines = own_lines or (is_item and new_line)
            end = b
    if question.cue in WHY_CUES and _CONSEQUENCE.match(sentence):
        before = [s for s in spans if s[1] <= start]
        if before and end - before[-1][0] <= 2 * MAX_SENTENCE_CHARS:
            start = before[-1][0]
    return start, end


@dataclass(frozen=True)
class Quote:
    """One quoted sentence of an answer: where it stands, and the answering span inside it."""

    passage: Passage  # the passage it is cited from
    start: int  # offsets of the quote in the document
    end: int
    text: str  # the document's text[start:end]
    span: str
    span_start: int  # where the span stands in the quote
    score: float


def cited_answer(question_text: str, documents: dict[str, Document], quotes: list[Quote], passages: list[Passage], confidence: float) -> Answer:
    """The answer both readers give: each quote with its numbered citation, one line each."""
    citations, sentences, parts = [], [], []
    for number, q in enumerate(quotes, start=1):
        doc = documents[q.passage.chunk.doc_id]
        citations.append(
            Citation(
                number=number,
                doc_id=doc.doc_id,
                title=doc.title,
                heading=q.passage.chunk.heading,
                quote=q.text,
                start=q.start,
                end=q.end,
                passage=q.passage,
                metadata=doc.metadata,
                page=doc.page_of(q.start),
            )
        )
        sentences.append(AnswerSentence(q.text, number, q.span, q.score, q.span_start))
        parts.append(f"{q.text}[{number}]")
    return Answer(
        question=question_text,
        text="".join(parts) if len(parts) == 1 else "\n".join(parts),
        refused=False,
        citations=tuple(citations),
        sentences=tuple(sentences),
        passages=tuple(passages),
        confidence=confidence,
    )


_OPENER_OF = {closer: opener for opener, closer in BRACKET_PAIRS.items()}


def balance_brackets(text: str, a: int, b: int) -> tuple[int, int]:
    """Mend a span `text[a:b]` that holds half of a bracket or quotation-mark pair: take in the
    other half when it stands right beside the span, else drop a stray one from the span's edge
    (a quote never shows `「锣鼓点` or `M-Touch”机`)."""
    for _ in range(6):  # each step mends one edge; a span has few brackets
        opens: list[int] = []
        closes: list[int] = []  # closers without their opener
        for i in range(a, b):
            c = text[i]
            if c in BRACKET_PAIRS:
                opens.append(i)
            elif c in _OPENER_OF:
                if opens and text[opens[-1]] == _OPENER_OF[c]:
                    opens.pop()
                else:
                    closes.append(i)
        if closes:
            if a > 0 and text[a - 1] == _OPENER_OF[text[closes[0]]]:
                a -= 1
            elif closes[-1] == b - 1:
                b -= 1
            elif closes[0] == a:
                a += 1
            else:
                break
        elif opens:
            if b < len(text) and text[b] == BRACKET_PAIRS[text[opens[-1]]]:
                b += 1
            elif opens[0] == a:
                a += 1
            elif opens[-1] == b - 1:
                b -= 1
            else:
                break
        else:
            break
    return a, b
