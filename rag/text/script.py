"""Traditional and simplified Chinese folded to one form, so that either script finds the other.

OpenCC (the `opencc` package: the project's own C++ library and dictionaries, maintained, offline,
~6 M characters/s here) does the conversion. Two folds:

- `fold` — for terms (BM25, the rule reader's coverage, question analysis): Taiwan phrases and
  variants to mainland simplified (`tw2sp`: 軟體 → 软件, 網際網路 → 互联网, 臺 → 台, 裡 → 里), then
  Hong Kong variants (`hk2s`: 啓/衞 forms). The length may change, so it is never used for offsets.
- `fold_chars` — for aligning a question with a sentence: character by character (`t2s` on each
  character alone), so position i of the result is position i of the input.

Simplified text passes through both almost unchanged, and queries and documents are folded the same
way, so an occasional conversion of a simplified word only changes which form is counted.

    >>> fold("免申即享適用範圍包括哪些項目？")
    '免申即享适用范围包括哪些项目？'
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def fold(text: str) -> str:
    """Traditional (Taiwan, Hong Kong, OpenCC standard) to simplified, phrases included."""
    if text.isascii():
        return text
    return _converter("hk2s").convert(_converter("tw2sp").convert(text))


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    folded = _converter("t2s").convert(ch)
    return folded if len(folded) == 1 else ch


def fold_chars(text: str) -> str:
    """Character-by-character fold that keeps the length: `fold_chars(s)[i]` stands for `s[i]`."""
    if text.isascii():
        return text
    return "".join(_fold_char(ch) for ch in text)


def written_in(text: str) -> str:
    """ "t" when `text` is mostly traditional script (over 5 % of its Chinese characters change when
    folded; simplified text changes almost none, traditional text a quarter or more), else "s"."""
    cjk = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    changed = sum(1 for ch in cjk if _fold_char(ch) != ch)
    return "t" if cjk and changed > 0.05 * len(cjk) else "s"


def like(text: str, script: str, reference: str) -> str:
    """`text` in `script` ("s" or "t"), and for traditional in the regional standard (OpenCC,
    Taiwan or Hong Kong) whose characters occur most in `reference`: a question asked of Taiwan
    passages is written with 裡 and 臺, of Hong Kong ones with 裏."""
    if script == "s":
        return fold(text)
    present = set(reference)
    candidates = [_converter(config).convert(text) for config in ("s2t", "s2tw", "s2hk")]
    return max(candidates, key=lambda c: sum(ch in present for ch in c))


def convert(text: str, script: str) -> str:
    """`text` written in `script`: "s" (simplified, mainland), "t" (traditional, Taiwan phrases)
    or "asis". Used to ask an evaluation set's questions in the other script."""
    if script == "asis":
        return text
    if script not in ("s", "t"):
        raise ValueError(f"unknown script {script!r} (asis, s or t)")
    return fold(text) if script == "s" else _converter("s2twp").convert(text)
