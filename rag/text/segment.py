"""How Chinese text is cut into terms for BM25.

Default, `char_bigrams`: NFKC-normalise, lower-case and fold traditional characters and Taiwan /
Hong Kong phrases to simplified (script.py, OpenCC), so either script finds the other; every run
of CJK characters gives its single characters and its overlapping character bigrams; every run
of Latin letters or digits gives one lower-cased word. Punctuation and spaces give nothing, and no bigram crosses them. Character
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
from functools import lru_cache
from pathlib import Path

from rag.text.script import fold

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(rf"([{_CJK}]+)|([a-z0-9]+(?:[.][0-9]+)?)")
# spaces used to align field names ("联 系 人", "索 引 号") are not word breaks
_SPACED_CJK = re.compile(rf"(?<=[{_CJK}])[ \u3000](?=[{_CJK}])")


def normalise(text: str) -> str:
    """Full-width forms to half-width, lower case, simplified script, no spaces inside CJK runs:
    `联 系 人ＡＢＣ` → `联系人abc`, `適用範圍` → `适用范围`. The length may change: never used for offsets."""
    return _SPACED_CJK.sub("", fold(unicodedata.normalize("NFKC", text).lower()))


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


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    """The words of jieba's dictionary (349 k), as a plain word list."""
    import jieba

    path = Path(jieba.__file__).parent / "dict.txt"
    with open(path, encoding="utf-8") as fh:
        return frozenset(line.split(" ", 1)[0] for line in fh)


def is_dictionary_word(term: str) -> bool:
    return term in _dictionary()


SEGMENTERS: dict[str, Callable[[str], list[str]]] = {
    "char_bigrams": char_bigrams,
    "jieba": jieba_words,
}
