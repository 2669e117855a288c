"""👍 / 👎 in the web chat: a thumb on an answer is recorded in the question log with its question,
and after 👎 the passage picked among those shown is recorded with it, or the last choice, that no
passage answers it (rag/serve/feedback.py)."""

from __future__ import annotations

import json

import pytest
from test_web import ask, browser, start_app  # noqa: F401  (browser: the fixture)

from conftest import SEED_QUESTION


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feedback-app")
    proc, url = start_app(folder, RAG_READER="rules")
    yield folder, url
    proc.terminate()
    proc.wait(timeout=30)


def _log(folder) -> list[dict]:
    path = folder / "index" / "log" / "questions.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _wait_for(page, check, what: str) -> None:
    for _ in range(100):
        if check():
            return
        page.wait_for_timeout(100)
    raise AssertionError(what)


def test_thumbs_down_is_recorded_with_the_question(app, browser):  # noqa: F811
    folder, url = app
    page = browser.new_page()
    page.goto(url)
    ask(page, SEED_QUESTION, "稳岗返还")
    ask(page, "如何办理护照?", "未在文档中找到")  # a refusal: its thumbs too
    questions = [r for r in _log(folder) if r["type"] == "question"]
    assert [q["question"] for q in questions] == [SEED_QUESTION, "如何办理护照?"]
    answered, refused = questions
    assert not answered["refused"] and refused["refused"] and "user" not in answered

    page.locator("#chat").get_by_label("Dislike").first.click()  # the first answer's 👎
    page.locator("#feedback-status").get_by_text("回答不对").wait_for(timeout=10_000)
    _wait_for(page, lambda: any(r["type"] == "feedback" for r in _log(folder)), "no feedback in the log")
    feedback = [r for r in _log(folder) if r["type"] == "feedback"]
    assert feedback == [{"type": "feedback", "id": answered["id"], "time": feedback[0]["time"], "verdict": "down"}]

    # the passages it showed are offered first, then retrieval's next ones; the one picked is recorded
    choices = page.locator("#feedback-passage label")
    choices.first.wait_for(timeout=10_000)
    assert choices.count() > len(answered["passages"]) == 5
    choices.first.click()
    page.locator("#feedback-status").get_by_text("已记录正确的段落").wait_for(timeout=10_000)
    picked = [r for r in _log(folder) if r["type"] == "feedback"][-1]
    first = answered["passages"][0]
    assert picked["id"] == answered["id"] and picked["verdict"] == "down"
    assert picked["passage"] == {"doc": first["doc"], "start": first["start"], "end": first["end"]}

    # 👍 on the refusal: recorded against the refused question, and nothing is offered
    page.locator("#chat").get_by_label("Like", exact=True).last.click()
    page.locator("#feedback-status").get_by_text("回答有用").wait_for(timeout=10_000)
    _wait_for(page, lambda: [r for r in _log(folder) if r["type"] == "feedback"][-1]["id"] == refused["id"], "no 👍 on the refusal")
    assert [r for r in _log(folder) if r["type"] == "feedback"][-1]["verdict"] == "up"
    assert not page.locator("#feedback-passage").is_visible()

    # 👎 on an answer, then the last choice, 以上段落都不能回答: recorded as the documents not answering it
    ask(page, "免申即享政策目录清单要怎样做?", "覆盖范围")
    page.locator("#chat").get_by_label("Dislike").last.click()
    last = page.locator("#feedback-passage label").last
    last.wait_for(timeout=10_000)
    assert last.inner_text().strip() == "以上段落都不能回答：文档中没有这个问题的答案"
    last.click()
    page.locator("#feedback-status").get_by_text("文档中没有这个问题的答案").wait_for(timeout=10_000)
    third = [r for r in _log(folder) if r["type"] == "question"][-1]
    _wait_for(page, lambda: [r for r in _log(folder) if r["type"] == "feedback"][-1].get("no_answer") is True, "no explicit no-answer")
    judged = [r for r in _log(folder) if r["type"] == "feedback"][-1]
    assert judged["id"] == third["id"] and judged["verdict"] == "down" and "passage" not in judged

    from rag.usage.log import QuestionLog

    labels = {e.question.question: e.label for e in QuestionLog(folder / "index" / "log").read().entries}
    assert labels == {SEED_QUESTION: "answerable-passage", "如何办理护照?": "rightly-refused", "免申即享政策目录清单要怎样做?": "unanswerable"}
    page.close()


def test_the_offered_passages_name_their_document_only_where_it_changes():
    from rag.serve.feedback import _labels

    offered = [
        {"title": "答复", "label": "一、工作情况：甲…"},
        {"title": "答复", "label": "二、下一步：乙…"},
        {"title": "通知", "label": "正文：丙…"},
        {"title": "答复", "label": "正文：丁…"},
    ]
    assert _labels(offered) == ["(1) 答复 · 一、工作情况：甲…", "(2) 二、下一步：乙…", "(3) 通知 · 正文：丙…", "(4) 答复 · 正文：丁…"]
