"""Main text of government web pages: how much of the document a page yields, and how much portal
furniture (navigation, share bars, 扫一扫, related links, footers, side lists) comes with it.

    python bench/html_main_text.py [--data ../shared/data] [--show]

Pages are built here from real texts (the seed reply, provincial work reports, laws) inside three
portal layouts modelled on Chinese government sites: furniture in `div`s with class names, an
information table of header fields, a breadcrumb, a side column. What is measured is what the
product indexes: the body spans of the loaded document (govdoc.py drops boilerplate lines from
them). Recall: share of the document's own characters (title, fields, paragraphs) found in the
indexed text. Furniture: share of the indexed text that is not the document's.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.ingest.load import document_from_bytes  # noqa: E402

NAV = ["首页", "政务公开", "政务服务", "互动交流", "数据开放", "走进八闽", "无障碍", "长者模式", "English"]
SIDE = [
    "关于开展2025年度专精特新中小企业认定工作的通知",
    "省工信厅召开全省工业和信息化工作会议",
    "2025年全省规上工业增加值增长7.1%",
    "关于印发数字经济发展行动方案的通知",
]
LINKS = ["中国政府网", "工业和信息化部", "福建省人民政府", "国务院国资委", "各设区市工信局"]
FOOTER = "主办单位：福建省工业和信息化厅　承办单位：省工信厅办公室　网站标识码：3500000012　闽ICP备05011145号　闽公网安备 35010202000123号　地址：福州市鼓楼区东大路22号"


def _p(paragraphs: list[str]) -> str:
    return "\n".join(f"<p>{html.escape(t)}</p>" for t in paragraphs)


def layout_a(title: str, fields: list[tuple[str, str]], paragraphs: list[str]) -> str:
    """gov.cn-like: header nav, breadcrumb, info table, article, share bar, QR code, related links."""
    rows = "".join(f"<tr><td class='t'>{k}：</td><td>{html.escape(v)}</td></tr>" for k, v in fields)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}_福建省工业和信息化厅</title></head><body>
<div class="top-bar"><div class="wrap"><a href="#">无障碍</a> | <a href="#">长者模式</a> | <a href="#">English</a> | 欢迎访问福建省工业和信息化厅网站</div></div>
<div class="header"><div class="logo"><img src="logo.png" alt="福建省工业和信息化厅"></div><div class="search"><input type="text" placeholder="请输入关键字"><a class="btn">搜索</a></div></div>
<div class="menu"><ul>{"".join(f"<li><a href='#'>{n}</a></li>" for n in NAV)}</ul></div>
<div class="position">您当前的位置：<a href="#">首页</a> &gt; <a href="#">政务公开</a> &gt; <a href="#">建议提案办理</a></div>
<div class="xxgk_table"><table>{rows}</table></div>
<div class="article">
<h1 class="article-title">{html.escape(title)}</h1>
<div class="info">来源：福建工信　时间：2024-04-29 09:19　【字体：<a>大</a> <a>中</a> <a>小</a>】</div>
<div class="TRS_Editor">{_p(paragraphs)}</div>
<div class="share">分享到：<a>微信</a> <a>微博</a> <a>QQ空间</a></div>
<div class="ewm"><img src="qr.png"><p>扫一扫在手机上查看当前页面</p></div>
<div class="tools"><a>【打印本页】</a> <a>【关闭窗口】</a></div>
</div>
<div class="xglj"><h3>相关链接</h3><ul>{"".join(f"<li><a href='#'>{n}</a></li>" for n in LINKS)}</ul></div>
<div class="footer"><p>{FOOTER}</p></div>
</body></html>"""


def layout_b(title: str, fields: list[tuple[str, str]], paragraphs: list[str]) -> str:
    """Provincial portal: fields as a definition list, side column of hot news, prev/next links."""
    dl = "".join(f"<dt>{k}：</dt><dd>{html.escape(v)}</dd>" for k, v in fields)
    side = "".join(f"<li><a href='#'>{html.escape(t)}</a><span>2025-12-0{i + 1}</span></li>" for i, t in enumerate(SIDE))
    return f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>{html.escape(title)}</title></head><body>
<div id="head"><div class="nav">{" ".join(f"<a href='#'>{n}</a>" for n in NAV)}</div></div>
<div id="main" class="clearfix">
<div class="left-col">
<div class="crumbs">当前位置：首页 &gt; 政府信息公开 &gt; 政府工作报告</div>
<div class="meta"><dl>{dl}</dl></div>
<div class="detail"><div class="detail-title">{html.escape(title)}</div>
<div class="detail-attr">发布时间：2026-02-09　浏览次数：<span>1024</span>　字号：<a>大</a> <a>中</a> <a>小</a></div>
<div class="detail-content" id="zoom">{_p(paragraphs)}</div>
</div>
<div class="prev-next"><p>上一篇：关于2025年全省国民经济和社会发展计划执行情况的报告</p><p>下一篇：关于2025年省级预算执行情况的报告</p></div>
</div>
<div class="right-col"><div class="hot"><h4>热点信息</h4><ul>{side}</ul></div>
<div class="wechat"><img src="wx.png">扫一扫关注微信公众号</div></div>
</div>
<div id="foot"><div class="links">友情链接：{"　".join(LINKS)}</div><div class="copy">{FOOTER}</div></div>
</body></html>"""


def layout_c(title: str, fields: list[tuple[str, str]], paragraphs: list[str]) -> str:
    """Older table layout: everything in nested tables, furniture in cells, a print bar."""
    info = "".join(f"<td>{k}：{html.escape(v)}</td>" for k, v in fields)
    body = "".join(f"<tr><td class='content'>{html.escape(t)}</td></tr>" for t in paragraphs)
    return f"""<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head><body>
<table width="100%" class="top"><tr><td class="nav">{" | ".join(NAV)}</td></tr></table>
<table width="1000" align="center"><tr><td class="loc">当前位置：首页 &gt;&gt; 法律法规</td></tr>
<tr><td><table class="info"><tr>{info}</tr></table></td></tr>
<tr><td class="title" align="center"><b>{html.escape(title)}</b></td></tr>
<tr><td><table class="body">{body}</table></td></tr>
<tr><td class="bar">【<a>打印</a>】【<a>关闭</a>】【<a>收藏</a>】【<a>返回顶部</a>】</td></tr>
<tr><td class="related">相关文章：<a>{html.escape(SIDE[0])}</a> <a>{html.escape(SIDE[1])}</a></td></tr>
</table>
<table width="100%" class="bottom"><tr><td>{FOOTER}</td></tr></table>
</body></html>"""


def layout_plain(title: str, fields: list[tuple[str, str]], paragraphs: list[str]) -> str:
    """No portal: a document saved as HTML (headings, paragraphs, a data table of its fields)."""
    rows = "".join(f"<tr><td>{k}</td><td>{html.escape(v)}</td></tr>" for k, v in fields)
    parts = [
        f"<h2>{html.escape(t)}</h2>" if re.match(r"^[一二三四五六七八九十]+、|^第.+章", t) and len(t) < 30 else f"<p>{html.escape(t)}</p>" for t in paragraphs
    ]
    return f"""<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head><body>
<h1>{html.escape(title)}</h1><table><tr><th>项目</th><th>内容</th></tr>{rows}</table>
{"".join(parts)}
</body></html>"""


LAYOUTS = {"a": layout_a, "b": layout_b, "c": layout_c, "plain": layout_plain}


def documents(data: Path, per_source: int = 2) -> list[tuple[str, str, list[tuple[str, str]], list[str]]]:
    """(name, title, header fields, paragraphs) of real documents."""
    out = []
    seed = next((ROOT / "seeds").glob("*.txt")).read_text(encoding="utf-8")
    lines = [ln.strip(" •\u3000") for ln in seed.splitlines() if ln.strip()]
    fields = [tuple(ln.replace(" ", "").split(":", 1)) for ln in lines[:4]]
    body = [ln for ln in lines[6:] if not re.match(r"^(扫一扫|温馨提示|PDF文件|相关链接)", ln)]
    out.append(("seed", lines[4], [(k, v) for k, v in fields], body))
    csv.field_size_limit(1 << 30)
    reports = sorted((data / "gov_reports" / "provincial_2026").glob("*.csv"))
    for path in reports[:per_source]:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            row = next(csv.DictReader(fh))
        text_lines = [ln.strip() for ln in row["full_text"].splitlines() if ln.strip()]
        start = text_lines.index(row["title"]) + 1 if row["title"] in text_lines else 0
        paragraphs = [ln for ln in text_lines[start:] if len(ln) > 1][:40]
        out.append((path.stem, row["title"], [("发布日期", row["publish_date"]), ("来源", row["province"] + "人民政府")], paragraphs))
    laws = sorted((data / "laws").rglob("*.md"))
    for path in laws[100 : 100 + per_source]:
        text = path.read_text(encoding="utf-8").split("<!-- INFO END -->")[-1]
        paragraphs = [ln.strip("# ").strip() for ln in text.splitlines() if ln.strip()][:40]
        out.append((path.stem, path.stem.split("(")[0], [("发布机构", "全国人民代表大会常务委员会")], paragraphs))
    return out


def _indexed(doc) -> str:
    """The body spans, plus the title and field values where the body does not hold them."""
    spans = doc.body_spans or ((0, len(doc.text)),)
    body = "\n".join(doc.text[a:b] for a, b in spans)
    extra = [t for t in (doc.title, *(v for _, v in doc.metadata)) if _squash(t) not in _squash(body)]
    return "\n".join([body, *extra])


def _squash(text: str) -> str:
    return re.sub(r"[\s\u3000]+", "", text)


def score(indexed: str, own: list[str]) -> tuple[float, float]:
    """(recall of the document's own characters, furniture share of the indexed text)."""
    rest = _squash(indexed)
    total = found = 0
    for piece in sorted({_squash(p) for p in own if _squash(p)}, key=len, reverse=True):
        total += len(piece)
        if piece in rest:
            found += len(piece)
            rest = rest.replace(piece, "", 1)
    whole = len(_squash(indexed))
    return (found / total if total else 1.0), (len(rest) / whole if whole else 0.0)


def extract_whole_page(page: bytes) -> str:
    """Before webpage.py: the whole page's text (html.parser; govdoc drops boilerplate lines)."""
    from rag.ingest.formats.html import html_text

    return _indexed(document_from_bytes(html_text(page.decode("utf-8")).encode("utf-8"), "page.md"))


def extract_product(page: bytes) -> str:
    """Today: webpage.page_text (readability main text under the page's title and field lines)."""
    return _indexed(document_from_bytes(page, "page.html", suffix=".html"))


def extract_readability_alone(page: bytes) -> str:
    from readability import Document as Readable

    from rag.ingest.formats.html import html_text

    return _indexed(document_from_bytes(html_text(Readable(page.decode("utf-8")).summary(html_partial=True)).encode("utf-8"), "page.md"))


def _trafilatura(page: bytes) -> str:
    import trafilatura  # optional: pip install trafilatura==2.3.1 to compare

    return trafilatura.extract(page.decode("utf-8"), include_tables=True, include_comments=False, favor_recall=True) or ""


def extract_trafilatura(page: bytes) -> str:
    return _indexed(document_from_bytes(_trafilatura(page).encode("utf-8"), "page.txt"))


def extract_trafilatura_fields(page: bytes) -> str:
    """trafilatura's main text under the page's title and field lines, as the product does with readability."""
    full = document_from_bytes(page, "page.html", suffix=".html")
    head = "\n".join([full.title, *(f"{k}:{v}" for k, v in full.metadata)])
    return _indexed(document_from_bytes((head + "\n\n" + _trafilatura(page)).encode("utf-8"), "page.txt"))


EXTRACTORS = {
    "whole page (before)": extract_whole_page,
    "readability-lxml alone": extract_readability_alone,
    "readability-lxml + page title and fields (product)": extract_product,
    "trafilatura alone": extract_trafilatura,
    "trafilatura + page title and fields": extract_trafilatura_fields,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--show", action="store_true", help="print the furniture each extractor kept on the first page of each layout")
    args = parser.parse_args()
    docs = documents(Path(args.data))
    pages = [
        (f"{name}/{key}", layout(title, fields, paragraphs).encode("utf-8"), [title, *(v for _, v in fields), *paragraphs])
        for name, title, fields, paragraphs in docs
        for key, layout in LAYOUTS.items()
    ]
    print(f"{len(pages)} pages ({len(docs)} documents × {len(LAYOUTS)} layouts)\n")
    print("| extractor | recall (document's own text) | furniture (share of indexed text) | worst page recall | ms/page |\n|---|---|---|---|---|")
    results = {}
    for name, extract in EXTRACTORS.items():
        try:
            extract(pages[0][1])
        except ImportError as exc:
            print(f"| {name} | not installed ({exc.name}) | | | |")
            continue
        recalls, furniture, started = [], [], time.perf_counter()
        for label, page, own in pages:
            r, f = score(extract(page), own)
            recalls.append((r, label))
            furniture.append(f)
        ms = (time.perf_counter() - started) / len(pages) * 1000
        worst = min(recalls)
        results[name] = {"recall": sum(r for r, _ in recalls) / len(recalls), "furniture": sum(furniture) / len(furniture)}
        print(f"| {name} | {results[name]['recall']:.3f} | {results[name]['furniture']:.3f} | {worst[0]:.3f} ({worst[1]}) | {ms:.0f} |")
        if args.show:
            for label, page, own in pages:
                if label.startswith("seed/"):
                    rest = _squash(extract(page))
                    for piece in sorted({_squash(p) for p in own}, key=len, reverse=True):
                        rest = rest.replace(piece, "", 1) if piece else rest
                    print(f"    {label}: {rest[:300]}")
    print(json.dumps(results, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
