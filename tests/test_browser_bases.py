"""Several knowledge bases in the web chat (issue 36), driven the way a user drives them: two bases
created in the 知识库 tab, a document uploaded into each, and a question in each answered only from
its own document (the citation's document checked); the selection is the browser session's own;
the API's `kb` parameter; rename and removal (which asks first)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_web import ARTIFACTS, ask, browser, listed, start_app, upload  # noqa: F401 - `browser` is a fixture

from conftest import FOUR_POLICIES, SEED_FILE, SEED_QUESTION

LIBRARY = "关于图书馆开放时间的通知\n\n市图书馆每周二至周日开放，开放时间为上午九点至下午五点，周一闭馆。\n"
POOL = "关于游泳馆收费标准的通知\n\n市游泳馆成人票价为每次三十元，儿童票价为每次十五元，六岁以下免费。\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bases-app")
    proc, url = start_app(folder, RAG_READER="rules")  # which reader answers does not matter here
    yield url, folder
    proc.terminate()
    proc.wait(timeout=30)


def manage_says(page, text: str) -> None:
    page.wait_for_function(f"() => (document.querySelector('#kb-manage-status textarea') || {{}}).value?.includes({text!r})", timeout=60_000)


def selected(page) -> str:
    return page.locator("#kb-select input").input_value()


def choose_base(page, name: str) -> None:
    page.locator("#kb-select input").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.wait_for_function(f"() => document.querySelector('#kb-select input').value === {name!r}", timeout=30_000)


def create_base(page, name: str) -> None:
    page.get_by_role("tab", name="知识库").click()
    if not page.locator("#kb-new-name").is_visible():
        page.get_by_text("管理知识库（新建、重命名、删除）").click()
    page.locator("#kb-new-name textarea, #kb-new-name input").first.fill(name)
    page.locator("#kb-create").click()
    manage_says(page, f"已新建知识库“{name}”")
    page.wait_for_function(f"() => document.querySelector('#kb-select input').value === {name!r}", timeout=30_000)


def cited_documents(page) -> str:
    return page.locator("#citations").inner_text()


def test_two_bases_each_answer_from_their_own_documents(app, browser, tmp_path):  # noqa: F811
    url, folder = app
    library, pool = tmp_path / "library.txt", tmp_path / "pool.txt"
    library.write_text(LIBRARY, encoding="utf-8")
    pool.write_text(POOL, encoding="utf-8")

    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url)
    assert selected(page) == "默认知识库"
    create_base(page, "图书馆")
    upload(page, library)
    listed(page, "uploads/library.txt")
    create_base(page, "游泳馆")
    listed(page, "library.txt", present=False)  # a new base starts empty
    assert page.locator("#kb-status textarea").input_value() == ""  # and nothing of the other base's upload stays
    upload(page, pool)

    page.get_by_role("tab", name="问答").click()
    ask(page, "游泳馆成人票价多少?", "三十元")
    cited = cited_documents(page)
    assert "uploads/pool.txt" in cited and "library.txt" not in cited and SEED_FILE.name not in cited
    ask(page, "图书馆的开放时间是什么?", "未在文档中找到")  # not from the other base's document
    assert "上午九点" not in page.locator("#chat").inner_text()

    choose_base(page, "图书馆")
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('三十元')", timeout=30_000)  # a new conversation
    ask(page, "图书馆的开放时间是什么?", "上午九点")
    cited = cited_documents(page)
    assert "uploads/library.txt" in cited and "pool.txt" not in cited
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "knowledge_bases.png"), full_page=True)

    other = browser.new_page()  # another browser session: its own selection, the default base
    other.goto(url)
    assert selected(other) == "默认知识库"
    ask(other, SEED_QUESTION, "稳岗返还")
    assert SEED_FILE.name in cited_documents(other)
    other.close()
    assert selected(page) == "图书馆"
    page.get_by_role("tab", name="知识库").click()
    listed(page, "uploads/library.txt")
    assert "pool.txt" not in page.locator("#documents").inner_text()
    page.close()


def test_the_api_takes_the_base_and_positional_calls_still_work(app):
    from gradio_client import Client

    url, _ = app
    client = Client(url, verbose=False)
    default = client.predict(SEED_QUESTION, [], api_name="/ask")  # today's call: the default base
    assert not default["refused"] and all(p in default["answer"] for p in FOUR_POLICIES)
    answer = client.predict("游泳馆成人票价多少?", [], "游泳馆", api_name="/ask")
    assert "三十元" in answer["answer"] and {c["doc"] for c in answer["citations"]} == {"uploads/pool.txt"}
    c = answer["citations"][0]
    source = client.predict(c["doc"], c["start"], c["end"], "游泳馆", api_name="/source")
    assert source["error"] is None and source["quote"] == c["quote"]
    assert client.predict(c["doc"], c["start"], c["end"], api_name="/source")["error"]  # not in the default base
    unknown = client.predict(SEED_QUESTION, [], "没有这个库", api_name="/ask")
    assert unknown["refused"] and "没有这个库" in unknown["notice"]


def test_rename_and_removal_that_asks_first(app, browser):  # noqa: F811
    from gradio_client import Client

    url, folder = app
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url)
    choose_base(page, "游泳馆")
    page.get_by_role("tab", name="知识库").click()
    page.get_by_text("管理知识库（新建、重命名、删除）").click()
    page.locator("#kb-new-name textarea, #kb-new-name input").first.fill("图书馆")
    page.locator("#kb-create").click()
    manage_says(page, "已有同名")
    assert selected(page) == "游泳馆"
    page.locator("#kb-rename-name textarea, #kb-rename-name input").first.fill("泳池")
    page.locator("#kb-rename").click()
    manage_says(page, "已重命名为“泳池”")
    page.wait_for_function("() => document.querySelector('#kb-select input').value === '泳池'", timeout=30_000)
    page.locator("#kb-remove").click()
    page.locator("#kb-confirm-text").get_by_text("泳池", exact=False).wait_for(timeout=30_000)
    page.locator("#kb-cancel-remove").click()
    manage_says(page, "已取消")
    assert selected(page) == "泳池" and page.locator("#kb-confirm-row").is_hidden()  # a click and a cancel: kept
    page.locator("#kb-remove").click()
    page.locator("#kb-confirm-remove").click()
    manage_says(page, "已删除知识库“泳池”")
    page.wait_for_function("() => document.querySelector('#kb-select input').value === '默认知识库'", timeout=30_000)
    listed(page, SEED_FILE.name)  # the default base's documents again
    page.close()
    names = [p.name for p in Path(folder / "index" / "bases").iterdir() if not p.name.startswith(".")]
    assert len(names) == 1  # 图书馆 stays
    gone = Client(url, verbose=False).predict("游泳馆成人票价多少?", [], "泳池", api_name="/ask")
    assert gone["refused"] and "三十元" not in gone["answer"]
