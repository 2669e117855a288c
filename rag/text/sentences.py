"""Where Chinese sentences and clauses end: one definition for chunking, answering and spans.

A sentence ends at 。！？ (or ！? ；;), together with any closing quotes or brackets right after the
mark, and at a line break: `他说：“我们会做好。”然后离开。` is two sentences, the first ending in `。”`.
A semicolon ends a sentence for quoting (government documents chain whole clauses with ；) but is a
weaker break than 。 for chunking. Clauses end at ，, (and, for chunking, more weakly at 、); a span
of a clause also stops at ：: and sentence ends (CLAUSE_BREAKS).

    >>> split_sentences("他说：“我们会做好。”然后离开。")
    [(0, 11), (11, 16)]
"""

from __future__ import annotations

import re

FULL_STOPS = "。！？!?"
SEMICOLONS = "；;"
SENTENCE_ENDS = FULL_STOPS + SEMICOLONS
CLAUSE_ENDS = "，,"
CLAUSE_MARKS = CLAUSE_ENDS + SEMICOLONS  # where a long quoted sentence may be cut (rag/read/compose.clause_run)
# clause boundaries inside a sentence (for short answers): commas, colons and sentence ends
CLAUSE_BREAKS = CLAUSE_ENDS + "：:" + SENTENCE_ENDS
SPACE = " \t\r\n"
BREAKS = SPACE + CLAUSE_BREAKS + "、"  # trimmed off the edges of an answer span
# bracket and quotation-mark pairs, opener → closer (a quote or span never holds half of one)
BRACKET_PAIRS = {"“": "”", "‘": "’", "「": "」", "『": "』", "（": "）", "(": ")", "《": "》", "〈": "〉", "【": "】", "［": "］", "[": "]"}
OPENERS = "".join(BRACKET_PAIRS)
CLOSERS = "".join(BRACKET_PAIRS.values()) + "\"'"  # straight quotes close (they open too seldom to tell)
PUNCTUATION = BREAKS + OPENERS + CLOSERS

_END = rf"[{SENTENCE_ENDS}]+[{re.escape(CLOSERS)}]*"
_SENTENCE = re.compile(rf"[^{SENTENCE_ENDS}\n]*(?:{_END}|\n+)|[^{SENTENCE_ENDS}\n]+$")
_CLAUSE = re.compile(rf"[^{CLAUSE_BREAKS}]+")

# Chunking separators (regular expressions, strongest first, for RecursiveCharacterTextSplitter
# with keep_separator="end"): paragraphs, lines, full stops, semicolons, commas, enumeration commas,
# then anywhere. No capturing groups (the splitter wraps each in one).
CHUNK_SEPARATORS = [
    r"\n\n",
    r"\n",
    rf"[{FULL_STOPS}]+[{re.escape(CLOSERS)}]*",
    rf"[{SEMICOLONS}]+[{re.escape(CLOSERS)}]*",
    rf"[{CLAUSE_ENDS}]",
    "、",
    "",
]


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, its end mark and closing quotes kept, surrounding
    whitespace trimmed; offsets are `text`'s plus `offset`. Punctuation alone is not a sentence.

    >>> split_sentences("他说：“我们会做好。”然后离开。")
    [(0, 11), (11, 16)]
    """
    out = []
    for match in _SENTENCE.finditer(text):
        piece = match.group(0)
        trimmed = piece.strip()
        if not trimmed or all(ch in PUNCTUATION for ch in trimmed):
            continue
        start = offset + match.start() + (len(piece) - len(piece.lstrip()))
        out.append((start, start + len(trimmed)))
    return out


def clause_spans(sentence: str) -> list[tuple[int, int]]:
    """(start, end) of the clauses of a sentence, punctuation and blank clauses excluded: `甲，乙。` → [(0, 1), (2, 3)]."""
    return [(m.start(), m.end()) for m in _CLAUSE.finditer(sentence) if m.group(0).strip()]


def without_edges(text: str, a: int, b: int, edges: str = BREAKS, leading: str = "") -> tuple[int, int]:
    """`text[a:b]` with the characters of `edges` taken off both ends (and those of `leading` off its
    start): how an answer span drops the punctuation and spaces around it. `，答案。` → `答案`."""
    while a < b and (text[a] in edges or text[a] in leading):
        a += 1
    while b > a and text[b - 1] in edges:
        b -= 1
    return a, b
