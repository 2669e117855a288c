"""Places and years a text names, in simplified script: what a question names must hold in its answer's source.

A question that names a place (`臺北市免申即享…`) or a year (`2024年…`) asks about that place or
year; an answer from a document that never names it (the Fujian reply for a Taipei question) answers
another question. The places are a fixed list: China's provincial-level divisions (full names and
the short forms documents use), their capitals, the sub-provincial cities and Taiwan's special
municipalities, the names a question about a government document is likely to carry. A list, not a
pattern: `…市` also matches 城市, 全市, 本市.

    >>> named_places("臺北市免申即享的適用範圍包括哪些項目？")
    ('台北',)
    >>> named_years("2024年规上工业增加值增长了多少?")
    ('2024',)
"""

from __future__ import annotations

import re

from rag.text.segment import normalise

_PROVINCES = (
    "北京 天津 河北 山西 内蒙古 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 广西 海南 "
    "重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆 台湾 香港 澳门"
)
_CITIES = (
    "石家庄 太原 呼和浩特 沈阳 长春 哈尔滨 南京 杭州 合肥 福州 南昌 济南 郑州 武汉 长沙 广州 南宁 海口 成都 贵阳 昆明 "
    "拉萨 西安 兰州 西宁 银川 乌鲁木齐 大连 青岛 宁波 厦门 深圳 苏州 台北 新北 桃园 台中 台南 高雄"
)
PLACES: tuple[str, ...] = tuple(sorted(set(_PROVINCES.split()) | set(_CITIES.split()), key=len, reverse=True))
_PLACE = re.compile("|".join(PLACES))
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?=年)")


def named_places(text: str) -> tuple[str, ...]:
    """The places of PLACES that `text` names (folded to simplified), in order, each once."""
    return tuple(dict.fromkeys(_PLACE.findall(normalise(text))))


_DIGITS = "〇一二三四五六七八九"


def written_forms(name: str) -> tuple[str, ...]:
    """How a document may write a name: a year also in Chinese digits (`2024` → `二〇二四`, `二零二四`),
    as the dates of government documents often are."""
    if not name.isdigit():
        return (name,)
    chinese = "".join(_DIGITS[int(d)] for d in name)
    return (name, chinese, chinese.replace("〇", "零"))


def named_years(text: str) -> tuple[str, ...]:
    """The years `text` names as `YYYY年`, as digits, each once."""
    return tuple(dict.fromkeys(_YEAR.findall(normalise(text))))
