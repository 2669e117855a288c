"""Structure of Chinese government documents: title, header fields, page boilerplate.

Saved government web pages start with a block of fields (`索 引 号:…`, `文号:…`, `发布机构:…`,
`生成日期:…`) and end with page furniture (`扫一扫在手机上查看当前页面`, `温馨提示`, `相关链接`,
print and font-size bars). Fields become metadata shown in citations; furniture is left out of the
body spans so it is never indexed. Nothing is removed from the text itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.ingest.headings import markdown_heading_text

# The one table of a government document's header fields. FIELD_NAMES: as they appear in the
# header block, possibly spaced out for alignment ("索 引 号"); SHOWN_FIELDS: what a citation shows
# (web card and CLI); FIELD_SYNONYMS: other names a question may use for a field the documents name
# otherwise (文号 in `文号:闽工信提案〔2024〕30号`).
FIELD_NAMES = ("标题", "索引号", "文号", "发文字号", "发布机构", "发文机关", "生成日期", "发布日期", "成文日期", "主题分类", "来源", "时间")
SHOWN_FIELDS = ("文号", "发布机构", "生成日期", "发布日期", "成文日期", "索引号")
FIELD_SYNONYMS = {
    "发文字号": "文号",
    "发文号": "文号",
    "发文机关": "发布机构",
    "发文单位": "发布机构",
    "发布单位": "发布机构",
    "印发日期": "生成日期",
    "成文日期": "生成日期",
    "发布时间": "发布日期",
    "落款": "署名",
}


def in_their_words(question: str, text: str) -> str:
    """The question with a header field named as `text` names it: `发文字号是多少?` asked of a text
    whose header says `文号:` becomes `文号是多少?` (a name the text uses itself is kept)."""
    for alias, canonical in FIELD_SYNONYMS.items():
        if alias in question and alias not in text and canonical in text:
            question = question.replace(alias, canonical)
    return question


_SPACED = "|".join(r"\s*".join(name) for name in FIELD_NAMES)
_FIELD = re.compile(rf"(?:^|\s)[•·\-*]?\s*({_SPACED})\s*[:：]\s*(.*?)(?=\s+(?:{_SPACED})\s*[:：]|$)")
_HEADER_LINES = 15

_BOILERPLATE = re.compile(
    r"^\s*(?:"
    r"扫一扫(?:在手机上?(?:查看|打开)当前页面?)?|温馨提示[:：]?|相关链接[:：]?|PDF文件可直接使用.*浏览器.*|"
    r"【?打印(?:本页)?】?|【?关闭(?:窗口)?】?|【?收藏】?|分享到[:：]?.*|"
    r"字号[:：]?\s*[【\[]?大[】\]]?\s*[【\[]?中[】\]]?\s*[【\[]?小[】\]]?.*|"
    r"[【\[]?\s*字体\s*[:：]?\s*大\s*中\s*小.*|当前位置[:：]?|上一篇[:：].*|下一篇[:：].*|"
    r"[（(]?责任编辑[:：][^）)]{0,20}[）)]?|分享到?[:：]?\s*(?:微信|微博|QQ空间|\s)*|[0-9a-fA-F]{8}-?[0-9a-fA-F\-]{8,}|"
    r"(?:打印|关闭|收藏|返回顶部)(?:\s+(?:打印|关闭|收藏|返回顶部))+|<!--.*-->"
    r")\s*$"
)
# A breadcrumb (`当前位置：首页 > 政务公开 > 通知`) is furniture only as far as it goes: a page saved
# as one line goes on with its body after it, which stays.
_BREADCRUMB = re.compile(r"^\s*(?:您(?:当前)?的?位置|当前位置)[:：]\s*(?:[^>＞»\s]{1,20}\s*[>＞»]+\s*)*(?:[^>＞»\s]{1,20}(?=\s|$))?\s*")
_TITLE_ENDINGS = re.compile(r"(答复|通知|意见|办法|规定|决定|报告|方案|条例|批复|函|公告|通报|规划|细则|纲要|法)$")


@dataclass(frozen=True)
class Structure:
    title: str
    metadata: tuple[tuple[str, str], ...]
    body_spans: tuple[tuple[int, int], ...]


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, without its line break."""
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        content = line.rstrip("\r\n")
        spans.append((pos, pos + len(content)))
        pos += len(line)
    return spans


def is_boilerplate(line: str) -> bool:
    return bool(line.strip()) and bool(_BOILERPLATE.match(line))


def header_fields(line: str) -> list[tuple[str, str]]:
    return [(re.sub(r"\s+", "", m.group(1)), m.group(2).strip()) for m in _FIELD.finditer(line) if m.group(2).strip()]


def _heading_text(line: str) -> str:
    """A title line without its Markdown marks, read as headings.py reads headings (`# 标题 #` →
    `标题`), so a title line and its heading agree."""
    return markdown_heading_text(line) or line.lstrip("# ").strip()


def _pick_title(lines: list[str], fields: dict[str, str], fallback: str, is_markdown: bool) -> str:
    if fields.get("标题"):
        return fields["标题"]
    candidates = [ln.strip() for ln in lines[:_HEADER_LINES] if ln.strip() and not header_fields(ln)]
    if is_markdown:
        for ln in candidates:
            if ln.startswith("# "):
                return _heading_text(ln)
    for ln in candidates:
        if 6 <= len(ln) <= 80 and _TITLE_ENDINGS.search(ln.rstrip("。")):
            return _heading_text(ln)
    for ln in candidates:
        if 4 <= len(ln) <= 60 and not ln.endswith(("。", ":", "：")):
            return _heading_text(ln)
    return fallback


def analyse(text: str, fallback_title: str, is_markdown: bool = False) -> Structure:
    line_spans = _lines(text)
    lines = [text[a:b] for a, b in line_spans]
    metadata: list[tuple[str, str]] = []
    for line in lines[:_HEADER_LINES]:
        for name, value in header_fields(line):
            if name not in dict(metadata):
                metadata.append((name, value))
    title = _pick_title(lines, dict(metadata), fallback_title, is_markdown)

    body: list[tuple[int, int]] = []
    for (start, end), line in zip(line_spans, lines):
        if is_boilerplate(line):
            continue
        crumb = _BREADCRUMB.match(line)
        if crumb:
            start += crumb.end()  # the body after the breadcrumb on the same line stays
            if start >= end:
                continue
        if body and text[body[-1][1] : start].strip() == "":
            body[-1] = (body[-1][0], end)  # extend the span over the line break
        else:
            body.append((start, end))
    body = [(a, b) for a, b in body if text[a:b].strip()]
    return Structure(title=title, metadata=tuple(metadata), body_spans=tuple(body))
