"""The 常见问题 tab in the browser: import an FAQ file in the page, ask a paraphrase of one of its
questions in the chat and get the FAQ's answer cited as the FAQ entry, and a question near another
entry gets it offered (您是否想问); turn the chat's last
extracted answer into an entry, edit it, and remove it after confirming."""

from __future__ import annotations

from test_web import app_url, ask, browser  # noqa: F401  (fixtures)

from conftest import SEED_QUESTION

ANSWER = "居民身份证丢失的，可到户籍所在地或全国任一办证点申请补领，补领期间可申请临时身份证。"


def test_imported_faq_answers_a_paraphrase(app_url, browser, tmp_path):  # noqa: F811
    path = tmp_path / "热线常见问题.csv"
    wage = "被拖欠工资如何投诉？,用人单位拖欠工资的，可拨打12333或到当地劳动保障监察机构投诉。,人社局"
    path.write_bytes(f"问题,答案,来源\n身份证丢失了如何补办？,{ANSWER},公安局户政管理指南\n{wage}\n".encode("gbk"))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    page.get_by_role("tab", name="常见问题").click()
    page.locator("#faq-upload input[type=file]").set_input_files(str(path))
    page.locator("#faq-import").click()
    page.wait_for_function("() => (document.querySelector('#faq-status textarea') || {}).value?.includes('新增 2 条')", timeout=60_000)
    assert page.locator("#faq-table").get_by_text("身份证丢失了如何补办？").count() >= 1
    page.get_by_role("tab", name="问答").click()
    ask(page, "身份证丢了去哪里补办", "常见问题 FAQ #1")
    chat = page.locator("#chat").inner_text()
    assert ANSWER in chat and "来源：公安局户政管理指南" in chat
    assert "常见问题 FAQ #1" in page.locator("#citations").inner_text()
    ask(page, "老板不发工资到哪里投诉", "您是否想问")  # near FAQ #2, below its threshold: offered under the extracted answer
    assert "您是否想问：被拖欠工资如何投诉？（常见问题 FAQ #2）" in page.locator("#chat").inner_text()


def status_says(page, text: str) -> None:
    page.wait_for_function(f"() => (document.querySelector('#faq-status textarea') || {{}}).value?.includes({text!r})", timeout=60_000)


def test_last_answer_to_faq_then_edit_and_remove(app_url, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    ask(page, SEED_QUESTION, "稳岗返还")
    page.get_by_role("tab", name="常见问题").click()
    page.locator("#faq-from-chat").click()
    status_says(page, "已加入 FAQ #")
    label = page.locator("#faq-status textarea").input_value().split("已加入 ")[1].split("：")[0]  # "FAQ #2"
    option = f"#{label.split('#')[1]} {SEED_QUESTION}"
    assert "闽工信提案〔2024〕30号" in page.locator("#faq-table").inner_text()  # the cited document's 文号 as its source
    page.locator("#faq-choice input").click()
    page.get_by_role("option", name=option).click()
    page.wait_for_function("() => document.querySelector('#faq-question textarea, #faq-question input').value.includes('免申即享')", timeout=30_000)
    page.locator("#faq-answer textarea").fill("免申即享政策目录见省工信厅公布的清单。")
    page.locator("#faq-save").click()
    status_says(page, f"已保存 {label}")
    assert "免申即享政策目录见省工信厅公布的清单。" in page.locator("#faq-table").inner_text()
    page.locator("#faq-choice input").click()
    page.get_by_role("option", name=option).click()
    page.locator("#faq-remove").click()
    page.locator("#faq-confirm-text").get_by_text(f"确定要删除 {label}").wait_for(timeout=30_000)
    page.locator("#faq-confirm-remove").click()
    status_says(page, f"已删除 {label}")
    assert SEED_QUESTION not in page.locator("#faq-table").inner_text()
