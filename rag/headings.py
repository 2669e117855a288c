"""Heading lines of Chinese documents and their nesting.

Recognised, outermost first: Markdown `#`…, 第X编, 第X章, 第X节, 一、, （一）/(一), 1. / 1、, （1）/(1),
第X条. A government document often runs its heading into the paragraph, as in
`(二)推动政策精准落地。充分发挥…`: the heading is then the part before the first 。.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN_NUM = "一二三四五六七八九十百千零〇两"
_PATTERNS: list[tuple[int, re.Pattern[str]]] = [
    (10, re.compile(rf"^第[{_CN_NUM}\d]+编")),
    (11, re.compile(rf"^第[{_CN_NUM}\d]+章")),
    (12, re.compile(rf"^第[{_CN_NUM}\d]+节")),
    (20, re.compile(rf"^[{_CN_NUM}]+、")),
    (21, re.compile(rf"^[（(][{_CN_NUM}]+[）)]")),
    (22, re.compile(r"^\d{1,2}[.、．](?!\d)")),
    (23, re.compile(r"^[（(]\d{1,2}[）)]")),
    (30, re.compile(rf"^第[{_CN_NUM}\d]+条")),
]
# closing #s count only after a space (CommonMark): `# 标题 #` → 标题, `# 学习C#` → 学习C#
_MARKDOWN = re.compile(r"^(#{1,6})\s+(.+?)(?:\s+#+)?\s*$")
_MAX_HEADING_CHARS = 40


@dataclass(frozen=True)
class Heading:
    rank: int  # smaller = outer
    text: str


def markdown_heading_text(line: str) -> str | None:
    """The text of a Markdown heading line (`## 第一章 总则 ##` → `第一章 总则`), or None."""
    md = _MARKDOWN.match(line.strip())
    return md.group(2) if md else None


def parse_heading(line: str) -> Heading | None:
    stripped = line.strip()
    if not stripped:
        return None
    md = _MARKDOWN.match(stripped)
    if md:
        return Heading(rank=len(md.group(1)), text=md.group(2))
    for rank, pattern in _PATTERNS:
        match = pattern.match(stripped)
        if not match:
            continue
        if rank == 30:  # an article: its number is the heading, the rest is its text
            return Heading(rank, match.group(0))
        head = re.split(r"[。！？；]", stripped, maxsplit=1)[0]
        if len(head) > _MAX_HEADING_CHARS:
            return None  # a numbered sentence, not a heading
        return Heading(rank, head.rstrip("：:，,"))
    return None


class HeadingStack:
    """Tracks the heading path: a new heading closes every heading at its rank or deeper."""

    def __init__(self) -> None:
        self._stack: list[Heading] = []

    def push(self, heading: Heading) -> None:
        while self._stack and self._stack[-1].rank >= heading.rank:
            self._stack.pop()
        self._stack.append(heading)

    def accepts(self, heading: Heading) -> bool:
        """Inside a law article (第X条), numbered items such as （一） are the article's text."""
        return not (any(h.rank == 30 for h in self._stack) and 20 <= heading.rank < 30)

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(h.text for h in self._stack)
