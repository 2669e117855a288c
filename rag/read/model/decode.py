"""From the network's logits to span guesses: the best span per window, the type a span must have,
and how the reader's margin and retrieval's score are interpolated."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.read.model.windows import Batch
from rag.read.question import Expects

# What any answer to a when-question holds, in either script: a digit, a Chinese numeral before a
# unit of time (三月, 十九世纪, 二〇二四年), or a word of time (年, 世纪, 朝, 时期, 春, 初, 前…). Lenient
# on purpose: it only turns away spans with none of them (`(试行)` for 什么时候公布), and a bare
# numeral is not a time (`两批省级…目录清单` for 第三批…什么时候公布: issue 33), nor is 期 alone (`定期公布`:
# 时期, 初期, 后期 hold 时, 初, 后; no CMRC train gold answer needed it). Of the 805
# when-questions of CMRC 2018 train, 8 gold answers (1.0 %) hold none: 魏晋, 土仑阶, 幼儿园, 二战
# (a bare numeral too: 7 before; docs/reader.md).
_TIME_UNITS = "年月日号时時世纪紀代季"
_TIME_WORDS = "朝春夏秋冬初末旬早晚午夜周週星前后後今昨明当當古近现現"
TIME_HINT = re.compile(rf"[0-9０-９]|[一二三四五六七八九十〇零两百千]+[{_TIME_UNITS}]|[{_TIME_UNITS}{_TIME_WORDS}]")


# What any answer to a how-many question holds: a digit or a numeral (几十, 首次, 次子 and 数个 count
# too). Of the 773 how-many questions of CMRC 2018 train, 13 gold answers (1.7 %) hold none, most of
# them questions that are no how-many question at all (最先发现…的几位科学家有谁?: a list of names).
NUMBER_HINT = re.compile(r"[0-9０-９]|[一二三四五六七八九十百千万亿〇零两几半首次数双俩壹贰叁肆伍陆柒捌玖拾佰仟]")


def fits_expected(expects: Expects, span_text: str) -> bool:
    """Whether a span can answer a question of this type: a when-question's span holds a time word,
    a how-many (how-long) question's a number or a word of time."""
    if expects == Expects.DATE:
        return TIME_HINT.search(span_text) is not None
    if expects == Expects.NUMBER:  # 多久 asks a duration: 当天 answers it
        return NUMBER_HINT.search(span_text) is not None or TIME_HINT.search(span_text) is not None
    return True


@dataclass(frozen=True)
class SpanGuess:
    passage: int  # index into the passages read: the one it is cited from
    start: int  # character offsets in the document
    end: int
    margin: float  # span score minus the window's no-answer score
    score: float  # span score (start + end logit)


def interpolated(margin: float, retrieval_score: float, passage_weight: float) -> float:
    """What chooses the quoted span: the reader's margin + passage_weight × the retrieval score."""
    return margin + passage_weight * retrieval_score if passage_weight else margin


def best_spans(start_logits, end_logits, batch: Batch, max_tokens: int) -> list[tuple[int, int, float, float]]:
    """Per window: (first token, last token, span score, no-answer score); span over passage tokens."""
    import torch

    out = []
    for row, window in enumerate(batch.windows):
        lo, hi = window.doc_offset, window.doc_offset + window.doc_tokens
        s, e = start_logits[row, lo:hi], end_logits[row, lo:hi]
        scores = s[:, None] + e[None, :]
        n = hi - lo
        allowed = torch.ones((n, n), dtype=torch.bool).triu().tril(max_tokens - 1)
        scores = scores.masked_fill(~allowed, -1e9)
        flat = int(torch.argmax(scores))
        i, j = divmod(flat, n)
        null = float(start_logits[row, 0] + end_logits[row, 0])
        out.append((lo + i, lo + j, float(scores[i, j]), null))
    return out
