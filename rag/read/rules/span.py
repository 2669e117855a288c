"""The most specific answering phrase inside an answer sentence.

Questions are usually the answer sentence with the answer replaced by a question word:
`《战国无双3》是由哪两个公司合作开发的` ~ `《战国无双3》是由光荣和ω-force开发的`. So the span is found by
aligning the words around the question word (its left and right context) with the sentence and
taking what lies between. When that fails, the question word's type decides (a number for 多少, a
date for 何时, a 《title》 for 叫什么, the match nearest the question's words). When no type applies,
and for why/how and other general questions, the span is the sentence less the clauses at its edges
that only restate the question. For list questions the span is the clause holding the enumeration.
The span is always a substring of the sentence, and it knows where it stands in it (a number can
occur twice in one sentence).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.read.question import ANSWER_SLOT_CUES, COUNT_CUES, QUESTION_END, Expects, Kind, QuestionAnalysis
from rag.text.script import fold_chars
from rag.text.segment import char_bigrams
from rag.text.sentences import CLAUSE_ENDS, PUNCTUATION, SENTENCE_ENDS, clause_spans, without_edges

_SPAN_EDGES = PUNCTUATION.replace("《", "").replace("》", "")  # trimmed off a span's ends; a 《title》 keeps its marks
NUMBER = re.compile(
    r"[约近超逾]?\d[\d,.\-]*(?:多|余)?\s*(?:[%％]|[个项条家场批次年月日天人元亿万千百十台件所名位岁米公里吨度倍种])*|[一二三四五六七八九十百千万亿两]+(?:多|余)?[个项条家场批次年月日天人元亿万倍种名位岁]"
)
DATE = re.compile(r"\d{4}年(?:\d{1,2}月)?(?:\d{1,2}日)?|\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}(?:-\d{1,2})?|[一二三四五六七八九〇零]{4}年")
TITLE = re.compile(r"《[^》]{2,60}》")  # a book-title-marked name: 《…实施方案(试行)》


@dataclass(frozen=True)
class Span:
    text: str
    start: int  # offset in the sentence

    @classmethod
    def of(cls, sentence: str, start: int, end: int) -> "Span":
        """sentence[start:end] without surrounding whitespace."""
        piece = sentence[start:end]
        stripped = piece.strip()
        return cls(stripped, start + len(piece) - len(piece.lstrip()))


@dataclass(frozen=True)
class _Gap:
    span: Span
    anchor: str  # which context of the question located it: "both", "left" or "right"


def _hits(question: QuestionAnalysis, text: str) -> int:
    return len(set(question.terms) & set(char_bigrams(text)))


def _best_clause(question: QuestionAnalysis, sentence: str) -> tuple[int, int]:
    clauses = clause_spans(sentence) or [(0, len(sentence))]
    return max(clauses, key=lambda c: (_hits(question, sentence[c[0] : c[1]]), -c[0]))


def _fold(text: str) -> str:
    """Character-by-character NFKC + lower case + simplified script, keeping the length (so offsets map back)."""
    out = []
    for ch in text:
        folded = unicodedata.normalize("NFKC", ch).lower()
        out.append(folded if len(folded) == 1 else ch)
    return fold_chars("".join(out))


def _occurrences(text: str, piece: str) -> list[int]:
    out, pos = [], text.find(piece)
    while pos >= 0:
        out.append(pos)
        pos = text.find(piece, pos + 1)
    return out


def _context_pieces(context: str, from_end: bool) -> list[tuple[str, int]]:
    """(piece, quality) of the question's context nearest the cue; longer and nearer is better."""
    pieces = []
    for skip in range(0, 4):
        for n in (6, 5, 4, 3, 2):
            if len(context) < skip + n:
                continue
            piece = context[len(context) - skip - n : len(context) - skip] if from_end else context[skip : skip + n]
            if not any(ch in PUNCTUATION for ch in piece):
                pieces.append((piece, 2 * n - skip))
    return pieces


def _aligned(question: str, sentence: str) -> _Gap | None:
    """The part of the sentence standing where the question word stands in the question: the best
    pair of (left context end, right context start) no more than 30 characters apart."""
    contexts = _cue_contexts(_fold(question).rstrip(QUESTION_END))
    if contexts is None:
        return None
    located = _locate(*contexts, _fold(sentence))
    if located is None:
        return None
    (start, end), anchor = located
    start, end = _trimmed(sentence, start, end)
    span = sentence[start:end]
    return _Gap(Span(span, start), anchor) if 1 < len(span) <= 40 or (len(span) == 1 and span.isdigit()) else None


def _cue_contexts(q: str) -> tuple[str, str] | None:
    """The folded question's text before and after its question word (None: it has none)."""
    for cue in ANSWER_SLOT_CUES:
        pos = q.find(cue)
        if pos >= 0:
            break
    else:
        return None
    left, right = q[:pos], q[pos + len(cue) :]
    # measure words that belong to the question word: 哪两个公司 -> cue 哪 + 两个 + 公司
    return left, re.sub(r"^[一两二三四五六七八九十\d]*[个位家项种条年名次届部本首座间支]", "", right)


def _locate(left: str, right: str, s: str) -> tuple[tuple[int, int], str] | None:
    """(start, end) in the folded sentence `s` between the question's contexts, and which of them
    located it: both, the nearest pair; else one side, up to the clause boundary."""
    lefts = [(o + len(p), quality) for p, quality in _context_pieces(left, True) for o in _occurrences(s, p)]
    rights = [(o, quality) for p, quality in _context_pieces(right, False) for o in _occurrences(s, p)]
    best, best_score = None, 0.0
    for l_end, lq in lefts:
        for r_start, rq in rights:
            gap = r_start - l_end
            if 0 < gap <= 30 and lq + rq - 0.1 * gap > best_score:
                best, best_score = (l_end, r_start), lq + rq - 0.1 * gap
    if best is not None:
        return best, "both"
    ends = CLAUSE_ENDS + SENTENCE_ENDS
    if lefts and (not rights or max(q for _, q in lefts) >= max(q for _, q in rights)):
        l_end = max(lefts, key=lambda x: x[1])[0]
        stops = [i for i in (s.find(p, l_end) for p in ends) if i >= 0]
        return (l_end, min(stops) if stops else len(s)), "left"
    if rights:
        r_start = max(rights, key=lambda x: x[1])[0]
        return (max(s.rfind(p, 0, r_start) for p in ends + "：:“《") + 1, r_start), "right"
    return None


def _trimmed(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The gap without edge punctuation, a parenthesis it began inside, or a leading copula."""
    start, end = without_edges(sentence, start, end, _SPAN_EDGES, leading="》）)」』")
    # a closing bracket whose opening one lies before the span: the span began inside a parenthesis
    # (`学名：…）又名福建竹叶青`, `第36届）是电视广播…`), which is not part of the answer
    unopened = re.match(r"^[^（(]*[）)]", sentence[start:end])
    if unopened and end - start - unopened.end() >= 2:
        start += unopened.end()
        while start < end and sentence[start].isspace():
            start += 1
    if end - start > 2:
        verb = re.match(r"^(?:又名|又称|也称为|也称|亦称|别称|简称|称为|是|为|有|在|于|由|叫|称|指|乃|即){1,2}", sentence[start:end])
        start += verb.end() if verb else 0
    return start, end


def best_span(question: QuestionAnalysis, sentence: str) -> str:
    return find_span(question, sentence).text


def find_span(question: QuestionAnalysis, sentence: str) -> Span:
    if question.kind is Kind.LIST:
        clauses = clause_spans(sentence) or [(0, len(sentence))]
        a, b = max(clauses, key=lambda c: (sentence[c[0] : c[1]].count("、"), _hits(question, sentence[c[0] : c[1]])))
        return Span.of(sentence, a, b)
    if question.kind is Kind.FACTOID:
        gap = _aligned(question.text, sentence)
        numeric = question.expects == Expects.NUMBER
        pattern = _typed_pattern(question)
        if gap and (not numeric or re.search(r"\d|[一二三四五六七八九十百千万亿两]", gap.span.text)):
            return _date_in(gap) if pattern is DATE else gap.span
        if pattern is None:
            # nothing locates a phrase and no type (number, date, title) narrows it: the sentence,
            # less the clauses at its edges that only restate the question, is the most specific
            # answer that can be justified (CMRC: char F1 trial 49.6 → 62.9, dev 40.5 → 44.3 on
            # such questions, against the best-covered clause)
            return _without_restatement(question, sentence)
        a, b = _best_clause(question, sentence)
        clauses = clause_spans(sentence)
        if set(char_bigrams(sentence[a:b])) <= set(char_bigrams(question.text)) and (a, b) in clauses:
            following = clauses.index((a, b)) + 1  # "领导署名:翁玉耀": the clause named by the question is a key
            if following < len(clauses):
                a, b = clauses[following]
        for offset, text in ((a, sentence[a:b]), (0, sentence)):
            match = _nearest_match(pattern, question, text)
            if match:
                return Span.of(sentence, offset + match.start(), offset + match.end())
        return Span.of(sentence, a, b)
    return _without_restatement(question, sentence)  # why/how (为什么, 如何 …) and other general questions


def _date_in(gap: _Gap) -> Span:
    """A when-question's gap often holds more than the date (`香港模特儿，2008年`): the date is the
    answer — the one next to the question's context that located the gap (`1998年开工建设，2001年`
    before 投产 → 2001年). A range (`3月1日至3月5日`) stays whole. (CMRC dev F1 +0.5, trial +0.03; the
    same narrowing for counts lost on both sets: not done.)"""
    text = gap.span.text
    dates = [m for m in DATE.finditer(text) if m.group(0).strip()]
    if not dates:
        return gap.span
    if len(dates) > 1 and re.search(r"[至到~～—–-]", text[dates[0].end() : dates[-1].start()]):
        return gap.span
    date = dates[0] if gap.anchor == "left" else dates[-1]
    return Span(date.group(0), gap.span.start + date.start())


def _without_restatement(question: QuestionAnalysis, sentence: str, share: float = 0.6) -> Span:
    """The sentence without leading and trailing clauses whose bigrams mostly come from the question."""
    asked = set(char_bigrams(question.text))
    clauses = clause_spans(sentence)
    if not clauses:
        return Span.of(sentence, 0, len(sentence))

    def restates(clause: tuple[int, int]) -> bool:
        grams = [g for g in char_bigrams(sentence[clause[0] : clause[1]]) if len(g) == 2]
        return bool(grams) and sum(g in asked for g in grams) >= share * len(grams)

    lo, hi = 0, len(clauses) - 1
    while lo < hi and restates(clauses[lo]):
        lo += 1
    while hi > lo and restates(clauses[hi]):
        hi -= 1
    return Span.of(sentence, clauses[lo][0], clauses[hi][1])


def _nearest_match(pattern: re.Pattern, question: QuestionAnalysis, text: str) -> re.Match | None:
    """The match of `pattern` nearest the question's words in `text` (`活动23场和6场政策对接会`:
    对接会开了几场 → 6场); for a count, a year (2023年) is not a count when another number is there."""
    matches = [m for m in pattern.finditer(text) if m.group(0).strip()]
    if question.cue in COUNT_CUES:
        matches = [m for m in matches if not re.fullmatch(r"\d{4}年", m.group(0).strip())] or matches
    if not matches:
        return None
    asked = set(question.terms) | set(char_bigrams(question.text))
    folded = _fold(text)  # the question's terms are normalised; _fold keeps offsets
    places = [i for i in range(len(folded) - 1) if folded[i : i + 2] in asked]
    if not places:
        return matches[0]

    def distance(m: re.Match) -> int:
        return min(m.start() - p - 2 if p < m.start() else p - m.end() if p >= m.end() else 0 for p in places)

    return min(matches, key=lambda m: (max(distance(m), 0), m.start()))


def _typed_pattern(question: QuestionAnalysis) -> re.Pattern | None:
    """What the answer must look like, when the question word says: a number, a date or a title."""
    return {Expects.NUMBER: NUMBER, Expects.DATE: DATE, Expects.TITLE: TITLE}.get(question.expects)
