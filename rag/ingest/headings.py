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
    run_in: bool = False  # body text follows on the same line: `(二)推动政策精准落地。充分发挥…`, `第五条 民事…`


def markdown_heading_text(line: str) -> str | None:
    """The text of a Markdown heading line (`## 第一章 总则 ##` → `第一章 总则`), or None."""
    md = _MARKDOWN.match(line.strip())
    return md.group(2) if md else None


def numbering_rank(line: str) -> int | None:
    """The rank of the numbering a line starts with (`二、` → 20, `（一）` → 21, `1.` → 22, `（1）` → 23), or None."""
    stripped = line.strip()
    return next((rank for rank, pattern in _PATTERNS if 20 <= rank < 30 and pattern.match(stripped)), None)


def parse_heading(line: str, followed_by: str | None = None) -> Heading | None:
    """The heading a line is or starts with, or None for body text.

    A numbered line (`二、…`, `（一）…`, `1.…`) is a heading only when it reads like one: its head (up to
    the first 。！？；) is at most 40 characters, and, when `followed_by` (the next non-blank line; ""
    when nothing follows) is given, a heading does not stand directly before a sibling or an outer
    heading. So `二、适用范围包括……等项目。` followed by `三、工作要求` is a numbered paragraph (body
    text), as is each line of a numbered list; `（一）经济运行稳中有进。` followed by its paragraph is
    a heading."""
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
            return Heading(rank, match.group(0), run_in=bool(stripped[match.end() :].strip()))
        head = re.split(r"[。！？；]", stripped, maxsplit=1)[0]
        if len(head) > _MAX_HEADING_CHARS:
            return None  # a numbered sentence, not a heading
        run_in = bool(stripped[len(head) + 1 :].strip())
        if 20 <= rank < 30 and not run_in and followed_by is not None:
            after = parse_heading(followed_by) if followed_by.strip() else None
            if not followed_by.strip() or (after is not None and after.rank <= rank):
                return None  # nothing under it: a numbered paragraph or a list item
        return Heading(rank, head.rstrip("：:，,"), run_in=run_in)
    return None


class HeadingStack:
    """Tracks the heading path: a new heading closes every heading at its rank or deeper."""

    def __init__(self) -> None:
        self._stack: list[Heading] = []

    def push(self, heading: Heading) -> None:
        self.close(heading.rank)
        self._stack.append(heading)

    def closes(self, rank: int) -> bool:
        """True when a line numbered at `rank` ends an open heading (a numbered paragraph `二、…。` after `一、总体要求`)."""
        return any(h.rank >= rank for h in self._stack)

    def close(self, rank: int) -> None:
        while self._stack and self._stack[-1].rank >= rank:
            self._stack.pop()

    def accepts(self, rank: int) -> bool:
        """Inside a law article (第X条), numbered items such as （一） are the article's text."""
        return not (any(h.rank == 30 for h in self._stack) and 20 <= rank < 30)

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(h.text for h in self._stack)
