"""Extractive answers: pick the sentences of the retrieved passages that answer the question.

No language model. Each sentence of the top passages is scored by how much of the question's
content it covers (character unigrams and bigrams weighted by corpus IDF and by how rare they are
among the candidate sentences), by the coverage of its whole passage, and by its passage's retrieval
rank, with a bonus for what the question asks for (an enumeration for 哪些/包括, a number for
多少/几, a date for 何时, a 《title》 for 叫什么). The answer quotes the best sentences, each followed
by its citation mark; each sentence also carries its most specific answering span (see span.py).
Whether to answer at all is decided apart from that ranking: when the IDF coverage of the sentence
that plain IDF scoring ranks first is below a threshold calibrated on the dev set, the answer says
plainly that the documents do not answer and lists the nearest passages.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from .question import Expects, QuestionAnalysis, analyse_question
from .segment import char_bigrams, is_dictionary_word
from .sentences import split_sentences
from .span import DATE, NUMBER, TITLE, find_span
from .types import Answer, AnswerSentence, Chunk, Citation, Document, Passage

NOT_FOUND = "未在文档中找到相关内容。以下是最接近的段落，供参考："
_ENUMERATION = re.compile(r"[、；;]")
MAX_SENTENCE_CHARS = 180
# A sentence stating what the question asks about (卒于 for 去世, 又称 for 又叫什么, 位于 for 在哪里):
# CMRC trial best sentence 0.814 → 0.818 (0.05 and 0.1 tie there), dev 0.845 → 0.851
STATED_BONUS = 0.1
# A sentence announcing a list: `有以下三点：`, `措施如下：`, `包括三个方面：` (not `第三条规定：`, `办理地点：`)
_NUMERAL = "一二三四五六七八九十两"
_ANNOUNCE = re.compile(
    rf"(?:以下|如下|下列)([{_NUMERAL}\d]*)[^。；;：:]{{0,8}}[：:]"
    rf"|(?<![第{_NUMERAL}\d])([{_NUMERAL}\d]+)(?:个方面|个|点|项|类|种|条)[^。；;：:]{{0,6}}[：:]"
)
# A list item: 一是…, 第一，…, （一）…, 1. / 1、… (not a decimal such as 3.5亿元), or a bullet
_ITEM = re.compile(r"[一二三四五六七八九十]+是|第[一二三四五六七八九十]+[，,、]|[（(]?[一二三四五六七八九十\d]+[）)、.．](?!\d)|[-*•●·]\s?")
_CONSEQUENCE = re.compile(r"(?:因此|所以|因而|于是|故而|从而|由此|因为这样|这使|这让)")
_LEAD_END = re.compile(r"[（(]|是|位于|生于")


@dataclass(frozen=True)
class AnswerSettings:
    # Confidence = IDF coverage of the question by the best-supported sentence (plain IDF scoring)
    # + z_weight * (dense z - z_center);
    # below min_confidence the question is refused. Calibrated on tests/data/seed_dev.jsonl
    # (docs/benchmarks.md).
    min_confidence: float = 0.348
    z_weight: float = 0.25
    z_center: float = 2.0
    max_sentences: int = 3
    follow_ratio: float = 0.85  # further sentences must score at least this fraction of the best


@dataclass(frozen=True)
class _Candidate:
    passage: Passage
    start: int  # in the document
    end: int
    text: str
    coverage: float
    score: float  # which sentence answers: question terms weighed by their rarity among the candidates
    support: float  # whether the passages answer at all: question terms weighed by corpus IDF only


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


def lead_subject(doc: Document) -> str:
    """The name an encyclopedic text opens with (`短叶水蜈蚣（学名：）…是莎草科…` → `短叶水蜈蚣`), or "".

    Chinese drops the subject of later sentences (`分布在美洲…`): they are about the document's
    topic, which is its title and the name the text opens with — a name followed by a parenthesis
    or by 是/位于/生于, not the opening words of ordinary prose (`近年来，`, `根据《…》，`)."""
    start = doc.body_spans[0][0] if doc.body_spans else 0
    opening = doc.text[start : start + 40]
    end = _LEAD_END.search(opening)
    lead = opening[: end.start()] if end else ""
    return lead if 2 <= len(lead) <= 20 and not re.search(r"\s", lead) else ""


def _trim_long(text: str, start: int, end: int, question: QuestionAnalysis) -> tuple[int, int]:
    """Cut an over-long sentence down to its best-covered run of clauses."""
    sentence = text[start:end]
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return start, end
    clauses = [(m.start(), m.end()) for m in re.finditer(r"[^，,]*[，,]?", sentence) if m.group(0)]
    wanted = set(question.terms)
    best, best_hits = 0, -1
    for i, (a, b) in enumerate(clauses):
        hits = len(wanted & set(char_bigrams(sentence[a:b])))
        if hits > best_hits:
            best, best_hits = i, hits
    lo = hi = best
    while True:
        grown = False
        if lo > 0 and clauses[hi][1] - clauses[lo - 1][0] <= MAX_SENTENCE_CHARS:
            lo, grown = lo - 1, True
        if hi + 1 < len(clauses) and clauses[hi + 1][1] - clauses[lo][0] <= MAX_SENTENCE_CHARS:
            hi, grown = hi + 1, True
        if not grown:
            break
    return start + clauses[lo][0], start + clauses[hi][1]


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
    if question.cue in ("为什么", "为何") and _CONSEQUENCE.match(sentence):
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


class AnswerExtractor:
    """The rule reader (see the module docstring); the fallback when the trained reader cannot load."""

    name = "rules"
    sweep_thresholds: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2)

    def __init__(
        self,
        documents: dict[str, Document],
        idf: Callable[[str], float],
        settings: AnswerSettings = AnswerSettings(),
        known: Callable[[str], bool] = lambda term: True,
    ):
        self.documents = documents
        self.idf = idf
        self.known = known
        self.settings = settings

    @property
    def threshold(self) -> float:
        return self.settings.min_confidence

    def with_threshold(self, threshold: float) -> "AnswerExtractor":
        return AnswerExtractor(self.documents, self.idf, replace(self.settings, min_confidence=threshold), self.known)

    def term_weight(self, term: str) -> float:
        """IDF weight of a question term. A character bigram found nowhere in the corpus that is not
        a dictionary word either (理护 from 办理护照) straddles two words and is ignored; unigrams
        count half."""
        if len(term) == 1:
            return 0.5 * self.idf(term)
        if not self.known(term) and not is_dictionary_word(term):
            return 0.0
        return self.idf(term)

    def coverage(self, terms: tuple[str, ...], text: str, weights: dict[str, float]) -> float:
        total = sum(weights[t] for t in terms)
        if total <= 0:
            return 0.0
        present = set(char_bigrams(text))
        return sum(weights[t] for t in terms if t in present) / total

    def _bonus(self, question: QuestionAnalysis, sentence: str) -> float:
        stated = any(p.search(sentence) for p in question.stated)
        return STATED_BONUS * stated + self._type_bonus(question, sentence)

    def _type_bonus(self, question: QuestionAnalysis, sentence: str) -> float:
        if question.kind == "list":
            return 0.15 if len(_ENUMERATION.findall(sentence)) >= 2 else 0.0
        if question.kind != "factoid":
            return 0.0
        expects = question.expects
        if expects == Expects.NUMBER:
            return 0.1 if NUMBER.search(sentence) else -0.3  # a count needs a number
        if expects == Expects.DATE:
            return 0.1 if DATE.search(sentence) else 0.0  # one pattern with the span's (CMRC trial and dev: no change)
        if expects == Expects.TITLE:
            return 0.1 if TITLE.search(sentence) else 0.0
        return 0.0

    def _candidates(self, question: QuestionAnalysis, passages: list[Passage], extra_terms: tuple[str, ...]) -> list[_Candidate]:
        weights = {t: self.term_weight(t) for t in question.terms}
        weights.update({t: 0.3 * self.idf(t) for t in extra_terms if t not in weights})
        terms = tuple(weights)
        rows = []
        for passage in passages:
            chunk = passage.chunk
            doc = self.documents[chunk.doc_id]
            context = " ".join((doc.title, *chunk.heading_path, chunk.text))
            passage_cov = self.coverage(terms, context, weights)
            prior = 1.0 / passage.rank if passage.rank else 0.0
            # shared by the passage's sentences: the document's topic and the section heading
            context_grams = set(char_bigrams(f"{doc.title} {lead_subject(doc)} {chunk.heading}"))
            headings = {doc.title, *chunk.heading_path}  # what the chunker took for headings: a numbered sentence is not one
            for start, end in split_sentences(chunk.text, chunk.start):
                start, end = _trim_long(doc.text, start, end, question)
                sentence = doc.text[start:end]
                if sentence.lstrip("# ").rstrip("。:：# ") in headings:
                    continue  # a bare heading (`二、下一步工作`, `# 标题`) is context, not an answer
                # title and heading path are the sentence's context ("二、下一步工作" answers "下一步呢?")
                own = set(char_bigrams(sentence))
                present = own | context_grams
                rows.append((passage, start, end, sentence, present, own, passage_cov, prior))
        # Terms found in most candidate sentences (the subject's name) do not tell them apart: the
        # sentence ranking weighs each term by its IDF times its rarity among the candidates' own
        # words (a heading shared by a section's sentences still counts for each of them).
        # (CMRC trial, 1,002 questions: best sentence holds the answer 0.669 → 0.691; tuned there,
        # checked on CMRC dev 0.711 → 0.734 and on the seed dev set.)
        n = len(rows)
        found = Counter(t for row in rows for t in row[5] if t in weights)
        local = {t: weights[t] * math.log((n + 1) / (found[t] + 0.5)) / math.log(2 * n + 2) for t in terms}
        total, local_total = sum(weights.values()), sum(local.values())
        out = []
        for passage, start, end, sentence, present, _, passage_cov, prior in rows:
            cov = sum(weights[t] for t in terms if t in present) / total if total > 0 else 0.0
            sharp = sum(local[t] for t in terms if t in present) / local_total if local_total > 0 else 0.0
            bonus = self._bonus(question, sentence)
            score = 0.6 * sharp + 0.25 * passage_cov + 0.2 * prior + bonus
            support = 0.6 * cov + 0.25 * passage_cov + 0.1 * prior + bonus
            out.append(_Candidate(passage, start, end, sentence, cov, score, support))
        return out

    def answer(self, question_text: str, passages: list[Passage], context_question: str | None = None, dense_z: float | None = None) -> Answer:
        question = analyse_question(question_text)
        extra: tuple[str, ...] = ()
        if context_question:
            previous = analyse_question(context_question)
            extra = previous.terms
            if question.kind == "general" and not question.cue:  # elliptical: 那下一步呢? (not 为什么呢?)
                stated = question.stated or previous.stated
                question = QuestionAnalysis(question.text, previous.kind, question.terms, previous.cue, stated)
        candidates = self._candidates(question, passages, extra)
        if not candidates:
            return self.refuse(question_text, passages)
        candidates.sort(key=lambda c: -c.score)
        best = candidates[0]
        confidence = max(candidates, key=lambda c: c.support).coverage
        if dense_z is not None:
            confidence += self.settings.z_weight * (dense_z - self.settings.z_center)
        if confidence < self.settings.min_confidence or not self._shares_a_word(question, best):
            return self.refuse(question_text, passages, confidence=confidence)

        best = self._with_discourse(question, best)
        chosen = [best]
        # a factoid gets its best sentence and at most one runner-up that scores nearly as well
        limit, ratio = (2, 0.95) if question.kind == "factoid" else (self.settings.max_sentences, self.settings.follow_ratio)
        for cand in candidates[1:]:
            if len(chosen) >= limit or cand.score < ratio * best.score:
                break
            overlaps = any(c.passage.chunk.doc_id == cand.passage.chunk.doc_id and c.start < cand.end and cand.start < c.end for c in chosen)
            if not overlaps and cand.text not in {c.text for c in chosen}:
                chosen.append(cand)
        return self._compose(question_text, question, chosen, passages, confidence)

    def _with_discourse(self, question: QuestionAnalysis, best: _Candidate) -> _Candidate:
        chunk = best.passage.chunk
        doc_text = self.documents[chunk.doc_id].text
        start, end = with_discourse(doc_text, chunk, question, best.start, best.end)
        if (start, end) == (best.start, best.end):
            return best
        return _Candidate(best.passage, start, end, doc_text[start:end], best.coverage, best.score, best.support)

    def _shares_a_word(self, question: QuestionAnalysis, best: _Candidate) -> bool:
        """An answer must share at least one word (a weighted bigram) with the question, in the
        sentence or its passage; dense similarity alone is not trusted (股票期权 ≠ 清偿账款)."""
        chunk = best.passage.chunk
        present = set(char_bigrams(" ".join((self.documents[chunk.doc_id].title, chunk.heading, chunk.text))))
        return any(len(t) > 1 and t in present and self.term_weight(t) > 0 for t in question.terms)

    def _compose(self, question_text: str, question: QuestionAnalysis, chosen: list[_Candidate], passages: list[Passage], confidence: float) -> Answer:
        quotes = []
        for cand in chosen:
            span = find_span(question, cand.text)
            quotes.append(Quote(cand.passage, cand.start, cand.end, cand.text, span.text, span.start, cand.score))
        return cited_answer(question_text, self.documents, quotes, passages, confidence)

    def refuse(self, question_text: str, passages: list[Passage], confidence: float = 0.0, notice: str = "") -> Answer:
        return Answer(question=question_text, text=NOT_FOUND, refused=True, passages=tuple(passages), confidence=confidence, notice=notice)
