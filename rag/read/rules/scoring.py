"""Sentence scoring for the rule reader: which sentences of the retrieved passages answer.

Each sentence of the top passages is scored by how much of the question's content it covers
(character unigrams and bigrams weighted by corpus IDF and by how rare they are among the candidate
sentences), by the coverage of its whole passage, and by its passage's retrieval rank, with a bonus
for what the question asks for (an enumeration for 哪些/包括, a number for 多少/几, a date for 何时,
a 《title》 for 叫什么). The rule reader (extractor.py) decides from these scores what to quote and
whether to answer at all.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from rag.read.compose import MAX_SENTENCE_CHARS, clause_run
from rag.read.question import Expects, Kind, QuestionAnalysis
from rag.read.rules.span import DATE, NUMBER, TITLE
from rag.text.segment import char_bigrams, is_dictionary_word
from rag.text.sentences import CLAUSE_MARKS, split_sentences
from rag.types import Document, Passage

_ENUMERATION = re.compile(r"[、；;]")
_CLAUSE = re.compile(rf"[^{CLAUSE_MARKS}]*[{CLAUSE_MARKS}]?")  # a clause with its closing mark, as clause_run grows them
# A sentence stating what the question asks about (卒于 for 去世, 又称 for 又叫什么, 位于 for 在哪里):
# CMRC trial best sentence 0.814 → 0.818 (0.05 and 0.1 tie there), dev 0.845 → 0.851
STATED_BONUS = 0.1
_LEAD_END = re.compile(r"[（(]|是|位于|生于")


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    start: int  # in the document
    end: int
    text: str
    coverage: float
    score: float  # which sentence answers: question terms weighed by their rarity among the candidates
    support: float  # whether the passages answer at all: question terms weighed by corpus IDF only


@dataclass(frozen=True)
class _Sentence:
    """A candidate sentence before scoring."""

    passage: Passage
    start: int  # in the document
    end: int
    text: str
    present: set  # its bigrams and those of its context (title, lead subject, heading)
    own: set  # its own bigrams
    passage_coverage: float
    prior: float  # 1 / retrieval rank


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
    """Cut an over-long sentence down to a run of clauses around its best-covered clause."""
    sentence = text[start:end]
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return start, end
    clauses = [(m.start(), m.end()) for m in _CLAUSE.finditer(sentence) if m.group(0)]
    wanted = set(question.terms)
    a, b = max(clauses, key=lambda c: (len(wanted & set(char_bigrams(sentence[c[0] : c[1]]))), -c[0]))
    return clause_run(text, start, end, start + a, start + b)


class SentenceScorer:
    """Scores the sentences of retrieved passages against a question (see the module docstring)."""

    def __init__(self, documents: dict[str, Document], idf: Callable[[str], float], known: Callable[[str], bool] = lambda term: True):
        self.documents = documents
        self.idf = idf
        self.known = known

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
        if question.kind is Kind.LIST:
            return 0.15 if len(_ENUMERATION.findall(sentence)) >= 2 else 0.0
        if question.kind is not Kind.FACTOID:
            return 0.0
        expects = question.expects
        if expects == Expects.NUMBER:
            return 0.1 if NUMBER.search(sentence) else -0.3  # a count needs a number
        if expects == Expects.DATE:
            return 0.1 if DATE.search(sentence) else 0.0  # one pattern with the span's (CMRC trial and dev: no change)
        if expects == Expects.TITLE:
            return 0.1 if TITLE.search(sentence) else 0.0
        return 0.0

    def candidates(self, question: QuestionAnalysis, passages: list[Passage], extra_terms: tuple[str, ...]) -> list[Candidate]:
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
                rows.append(_Sentence(passage, start, end, sentence, present, own, passage_cov, prior))
        # Terms found in most candidate sentences (the subject's name) do not tell them apart: the
        # sentence ranking weighs each term by its IDF times its rarity among the candidates' own
        # words (a heading shared by a section's sentences still counts for each of them).
        # (CMRC trial, 1,002 questions: best sentence holds the answer 0.669 → 0.691; tuned there,
        # checked on CMRC dev 0.711 → 0.734 and on the seed dev set.)
        n = len(rows)
        found = Counter(t for row in rows for t in row.own if t in weights)
        local = {t: weights[t] * math.log((n + 1) / (found[t] + 0.5)) / math.log(2 * n + 2) for t in terms}
        total, local_total = sum(weights.values()), sum(local.values())
        out = []
        for row in rows:
            cov = sum(weights[t] for t in terms if t in row.present) / total if total > 0 else 0.0
            sharp = sum(local[t] for t in terms if t in row.present) / local_total if local_total > 0 else 0.0
            bonus = self._bonus(question, row.text)
            score = 0.6 * sharp + 0.25 * row.passage_coverage + 0.2 * row.prior + bonus
            support = 0.6 * cov + 0.25 * row.passage_coverage + 0.1 * row.prior + bonus
            out.append(Candidate(row.passage, row.start, row.end, row.text, cov, score, support))
        return out
