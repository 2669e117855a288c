"""How Chinese text is cut into terms for BM25.

Default, `char_bigrams`: NFKC-normalise and lower-case; every run of CJK characters gives its single
characters and its overlapping character bigrams; every run of Latin letters or digits gives one
lower-cased word. Punctuation and spaces give nothing, and no bigram crosses them. Character
n-grams need no dictionary, so new policy names (`免申即享`) match as well as common words; on our
benchmarks they beat word segmentation (docs/benchmarks.md).

`jieba_words` (jieba's default dictionary, accurate mode) is kept as a baseline.

    >>> char_bigrams("免申即享包括哪些政策?")[:5]
    ['免', '申', '即', '享', '包']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(rf"([{_CJK}]+)|([a-z0-9]+(?:[.][0-9]+)?)")


def normalise(text: str) -> str:
    """Full-width forms to half-width and lower case: `ＡＢＣ１２３` → `abc123`."""
    return unicodedata.normalize("NFKC", text).lower()


def char_bigrams(text: str) -> list[str]:
    terms: list[str] = []
    for match in _TOKEN.finditer(normalise(text)):
        cjk, word = match.groups()
        if word:
            terms.append(word)
            continue
        terms.extend(cjk)
        terms.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
    return terms


def jieba_words(text: str) -> list[str]:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [w for w in jieba.lcut(normalise(text)) if _TOKEN.fullmatch(w) or re.search(rf"[{_CJK}a-z0-9]", w)]


SEGMENTERS: dict[str, Callable[[str], list[str]]] = {
    "char_bigrams": char_bigrams,
    "jieba": jieba_words,
}
