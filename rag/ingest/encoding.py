"""Bytes to text: UTF-8/UTF-16 by BOM or evidence, legacy Chinese encodings by detection
(charset-normalizer), HTML by its declared charset first. Text is kept as decoded (only a BOM and
stray control characters are dropped) so every offset refers to what is stored."""

from __future__ import annotations

import re

from rag.errors import DocumentError

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode_bytes(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), UTF-16 (BOM, or evident from NUL bytes), or else the
    legacy encoding charset-normalizer detects: GB18030/GBK/GB2312 or Big5/Big5-HKSCS.

    Raises DocumentError for data that looks binary or decodes in none of them.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data[len(bom) :], encoding)
    if data[:200].count(b"\x00") > 0:
        sample = data[:4000]
        if len(sample) % 2 == 0 and sample[1::2].count(0) > len(sample) // 4:
            return _strict(data, "utf-16-le")
        if len(sample) % 2 == 0 and sample[0::2].count(0) > len(sample) // 4:
            return _strict(data, "utf-16-be")
        raise DocumentError("看起来是二进制文件（含 NUL 字节） / looks like a binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _best_legacy_decoding(data)
    if _looks_binary(text):
        raise DocumentError("看起来是二进制文件（含控制字符） / looks like a binary file (control characters)")
    return _CONTROLS.sub("", text)  # a few stray control characters (\x1a from old editors) are dropped


def _plausibility(text: str) -> float:
    """Share of characters that are common in Chinese documents: CJK, ASCII, CJK punctuation."""
    good = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff" or " " <= ch <= "~" or ch in "\n\r\t" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef")
    return good / max(len(text), 1)


# what a Chinese file that is not UTF-8 may be in: GB18030 (a superset of GBK and GB2312), Big5 and
# Big5-HKSCS (Taiwan, Hong Kong, Macao), UTF-16 without a BOM. Big5 bytes mostly decode as GB18030
# too (into nonsense), so the choice is by language statistics, not by which decodes.
LEGACY_ENCODINGS = ("gb18030", "big5hkscs", "big5", "utf_16_le", "utf_16_be")


def _best_legacy_decoding(data: bytes) -> str:
    """The legacy encoding charset-normalizer finds most coherent for the text (see LEGACY_ENCODINGS)."""
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS)).best()
    if best is None:
        raise DocumentError("无法识别的文字编码（不是 UTF-8、GB18030/GBK、Big5 或 UTF-16） / not valid UTF-8, GB18030/GBK, Big5 or UTF-16 text")
    text = _strict(data, best.encoding)
    if _plausibility(text[:4000]) < 0.8:
        raise DocumentError("无法识别的文字编码或二进制文件 / not valid UTF-8, GB18030/GBK, Big5 or UTF-16 text (or a binary file)")
    return text


_DECLARED = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)


_LABELS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "big5": "big5hkscs", "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8"}


def decode_markup(data: bytes) -> str:
    """HTML: the encoding its `<meta charset>` (or XML declaration) names, when it decodes with it
    into plausible text; else as any text file. A BOM wins over a declaration, as in browsers."""
    if not data.startswith(tuple(bom for bom, _ in _BOMS)):
        match = _DECLARED.search(data[:4096])
        if match:
            name = (match.group(1) or match.group(2)).decode("ascii").lower()
            # as browsers do (WHATWG): GB names mean GB18030, Big5 means Big5-HKSCS, a UTF-16 label
            # on bytes without a BOM means UTF-8
            name = _LABELS.get(name, name)
            try:
                text = data.decode(name)
                # a label can lie (a GBK page marked windows-1252 decodes into Latin mojibake)
                if not _looks_binary(text) and _plausibility(text[:4000]) >= 0.8:
                    return text
            except (LookupError, UnicodeDecodeError):
                pass  # a wrong or unknown declaration: detect instead
    return decode_bytes(data)


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DocumentError(f"不是有效的 {encoding} 文本 / not valid {encoding} text") from exc


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _looks_binary(text: str) -> bool:
    """More than 5 % control characters (and more than 8): binary, not text with a few strays."""
    sample = text[:4000]
    controls = len(_CONTROLS.findall(sample))
    return controls > max(8, len(sample) // 20)
