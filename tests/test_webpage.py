"""Issue 17: a saved government web page is indexed without the portal's furniture, and keeps its
title and header fields."""

from __future__ import annotations

from rag.ingest.load import document_from_bytes

BODY = [
    "省工商联：",
    "《关于优化提升政务服务 激发市场主体活力的提案》收悉。感谢贵单位对我省工业和信息化工作的关心和支持。现将办理情况答复如下。",
    "一、我厅优化政务服务的工作情况",
    "（一）推动政策精准落地。充分发挥平台网络作用，推行“免申即享”，包括水利建设基金、文化事业建设费、省技改项目融资支持、失业保险稳岗返还等政策。",
    "（二）提升服务企业水平。优化“网上办”“不见面审批”服务方式，全面推行企业开办一网通办，压缩办理时限至1个工作日以内。",
    "二、下一步工作",
    "下一步，我们将进一步吸收贵单位的宝贵建议，持续推动政策落实，持续提升服务效能，为民营企业发展营造良好环境。",
]
PAGE = f"""<html><head><meta charset="utf-8"><title>关于第20243098号提案的答复_福建省工业和信息化厅</title></head><body>
<div class="top-bar">无障碍 | 长者模式 | English | 欢迎访问本网站</div>
<div class="menu"><ul><li>首页</li><li>政务公开</li><li>政务服务</li><li>互动交流</li></ul></div>
<div class="position">您当前的位置：首页 &gt; 政务公开 &gt; 建议提案办理</div>
<div class="xxgk_table"><table><tr><td>索引号：</td><td>FJ00103-0901-2024-00109</td></tr><tr><td>文号：</td><td>闽工信提案〔2024〕30号</td></tr></table></div>
<div class="article"><h1>福建省工业和信息化厅关于省政协十三届二次会议第20243098号提案的答复</h1>
<div class="TRS_Editor">{"".join(f"<p>{p}</p>" for p in BODY)}</div>
<div class="share">分享到：微信 微博 QQ空间</div><div class="ewm">扫一扫在手机上查看当前页面</div></div>
<div class="right-col"><h4>热点信息</h4><ul><li>关于开展专精特新中小企业认定工作的通知</li><li>省工信厅召开全省工业和信息化工作会议</li></ul></div>
<div class="footer">主办单位：福建省工业和信息化厅 网站标识码：3500000012 闽ICP备05011145号</div>
</body></html>"""


def _indexed(doc) -> str:
    return "\n".join(doc.text[a:b] for a, b in (doc.body_spans or ((0, len(doc.text)),)))


def test_portal_furniture_is_not_indexed_and_the_document_is():
    doc = document_from_bytes(PAGE.encode("utf-8"), "reply.html", suffix=".html")
    indexed = _indexed(doc)
    for paragraph in BODY:
        assert paragraph in indexed
    for furniture in ("长者模式", "互动交流", "您当前的位置", "分享到", "热点信息", "专精特新", "网站标识码", "闽ICP备"):
        assert furniture not in indexed, furniture
    assert doc.title == "福建省工业和信息化厅关于省政协十三届二次会议第20243098号提案的答复"
    assert dict(doc.metadata)["文号"] == "闽工信提案〔2024〕30号"


def test_a_page_that_is_only_a_short_notice_keeps_all_of_it():
    page = "<html><head><title>停电通知</title></head><body><p>因线路检修，6月1日8时至12时停电。</p><p>联系电话：0591-87654321。</p></body></html>"
    doc = document_from_bytes(page.encode("utf-8"), "notice.html", suffix=".html")
    assert "6月1日8时至12时停电" in doc.text and "0591-87654321" in doc.text


def test_a_page_readability_cannot_parse_falls_back_to_the_whole_page():
    page = "<html><body>" + "<div>" * 300 + "免申即享政策包括水利建设基金。" + "</div>" * 300 + "</body></html>"
    doc = document_from_bytes(page.encode("utf-8"), "deep.html", suffix=".html")
    assert "免申即享政策包括水利建设基金" in doc.text
