"""The web chat, driven the way a user drives it: Debian's headless Chromium through Playwright,
and gradio_client against the running app; and the flags of its two entry points (`python app.py`,
`python -m rag serve`)."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from support.pdf_boxes import assert_boxes_match, expected_pixel_boxes

from conftest import FOUR_POLICIES, ROOT, SEED_FILE, SEED_QUESTION

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "tests" / "artifacts"
HOSTILE = (
    '关于恶意标记<img src=x onerror="window.__pwned = 3">测试的通知\n\n'
    '本测试文件包含标记<script>window.__pwned = 1</script>和图片<img src=x onerror="window.__pwned = 2">，'
    "用于检查网页是否把文档内容当作纯文本显示。恶意标记测试的结论是页面安全。\n"
)


def _flags(parser: argparse.ArgumentParser) -> list[tuple]:
    return [(a.option_strings, a.dest, a.default, a.type, a.help) for a in parser._actions]


def test_app_py_and_rag_serve_take_the_same_flags(monkeypatch):
    """`python app.py` and `python -m rag serve` share one definition of their flags and defaults."""
    from rag.cli import parser as cli_parser
    from rag.serve.options import parser as app_parser

    monkeypatch.setenv("RAG_HOST", "0.0.0.0")
    monkeypatch.setenv("RAG_PORT", "7999")
    subcommands = next(a for a in cli_parser()._actions if isinstance(a, argparse._SubParsersAction))
    serve = subcommands.choices["serve"]
    assert _flags(serve) == _flags(app_parser())
    assert {"--host", "--port", "--index", "--share"} <= {o for a in serve._actions for o in a.option_strings}
    for parser in (serve, app_parser()):
        args = parser.parse_args(["--index", "elsewhere"])
        assert (args.host, args.port, args.index, args.share) == ("0.0.0.0", 7999, "elsewhere", False)
    monkeypatch.delenv("RAG_HOST")
    monkeypatch.delenv("RAG_PORT")
    assert (app_parser().parse_args([]).host, app_parser().parse_args([]).port) == ("127.0.0.1", 7860)


def test_rag_serve_help_lists_the_flags():
    done = subprocess.run([sys.executable, "-m", "rag", "serve", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert all(flag in done.stdout for flag in ("--host", "--port", "--index", "--share"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(folder: Path, **extra_env: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, RAG_INDEX_DIR=str(folder / "index"), RAG_PORT=str(port), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", **extra_env)
    log = open(folder / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}: {(folder / 'app.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(1)
    proc.kill()
    raise RuntimeError("app did not start in time")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    proc, url = start_app(tmp_path_factory.mktemp("app"))
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def ask(page, question: str, expect: str) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    page.locator("#send").click()
    page.locator("#chat").get_by_text(expect).first.wait_for(timeout=60_000)


def status_says(page, text: str, timeout: int) -> None:
    """Wait until the knowledge-base status box holds `text`."""
    page.wait_for_function(f"() => (document.querySelector('#kb-status textarea') || {{}}).value?.includes({text!r})", timeout=timeout)


def upload(page, path: Path) -> None:
    """Upload one file through the knowledge-base tab and wait until it is indexed."""
    page.get_by_role("tab", name="知识库").click()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.locator("#upload-button").click()
    status_says(page, "新增 1", 120_000)


def test_seed_question_in_browser(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    ask(page, SEED_QUESTION, "稳岗返还")
    chat = page.locator("#chat").inner_text()
    for policy in FOUR_POLICIES:
        assert policy in chat
    assert "[1]" in chat and "来源" in chat
    citations = page.locator("#citations")
    citations.get_by_text("闽工信提案〔2024〕30号").wait_for(timeout=10_000)
    panel = citations.inner_text()
    assert "福建省工业和信息化厅关于省政协十三届二次会议第20243098号提案的答复" in panel
    assert SEED_FILE.name in panel
    assert "稳岗返还" in citations.locator("mark").first.inner_text()  # the answer sentence is highlighted
    # the enumeration that answers is in bold inside its sentence, in the chat and in the passage
    for where in ("#chat", "#citations"):
        bold = page.locator(f"{where} strong.span").first.inner_text()
        assert all(policy in bold for policy in FOUR_POLICIES) and not bold.startswith("积极推行"), bold
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "seed_question.png"), full_page=True)
    page.close()


def test_follow_up_uses_the_conversation(app_url, browser):
    page = browser.new_page()
    page.goto(app_url)
    ask(page, SEED_QUESTION, "稳岗返还")
    ask(page, "下一步呢?", "覆盖范围")
    last = page.locator("#chat").inner_text().split("下一步呢?")[-1]
    assert "免申即享" in last and "覆盖范围" in last
    page.close()


def test_gradio_client(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    result = client.predict(SEED_QUESTION, [], api_name="/ask")
    assert not result["refused"] and all(p in result["answer"] for p in FOUR_POLICIES)
    assert result["citations"][0]["doc"] == SEED_FILE.name
    follow = client.predict("下一步呢?", [SEED_QUESTION], api_name="/ask")
    alone = client.predict("下一步呢?", [], api_name="/ask")
    assert "免申即享" in follow["answer"] and "免申即享" not in alone["answer"]
    refused = client.predict("如何办理护照?", [], api_name="/ask")
    assert refused["refused"]


def test_hostile_upload_renders_inert(app_url, browser, tmp_path):
    hostile = tmp_path / "hostile.txt"
    hostile.write_text(HOSTILE, encoding="utf-8")
    page = browser.new_page()
    page.goto(app_url)
    upload(page, hostile)
    page.locator("#documents").get_by_text("uploads/hostile.txt").wait_for(timeout=10_000)
    assert "<img src=x onerror=" in page.locator("#documents").inner_text()  # the title, as text
    assert page.locator("#documents img").count() == 0 and page.evaluate("window.__pwned") is None
    page.get_by_role("tab", name="问答").click()
    ask(page, "恶意标记测试的结论是什么?", "页面安全")
    page.locator("#citations").get_by_text("<script>", exact=False).first.wait_for(timeout=10_000)
    ask(page, "本测试文件包含什么标记和图片?", "window.__pwned = 1")  # an answer that quotes the markup itself
    chat = page.locator("#chat").inner_text()
    assert "<script>window.__pwned = 1</script>" in chat and "<img src=x onerror=" in chat  # shown as text
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#citations script, #chat script, #citations img, #chat img[src=x]").count() == 0
    page.close()


def test_login_when_credentials_are_configured(tmp_path):
    from gradio_client import Client

    proc, url = start_app(tmp_path, RAG_USERNAME="staff", RAG_PASSWORD="s3cret")
    try:
        with pytest.raises(Exception, match="(?i)login|credential|auth"):
            Client(url, verbose=False).predict(SEED_QUESTION, [], api_name="/ask")
        result = Client(url, auth=("staff", "s3cret"), verbose=False).predict(SEED_QUESTION, [], api_name="/ask")
        assert "稳岗返还" in result["answer"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def listed(page, name: str, present: bool = True) -> None:
    """Wait until the knowledge-base table does (or does not) show `name`."""
    test = "" if present else "!"
    page.wait_for_function(f"() => {test}(document.querySelector('#documents') || {{innerText: ''}}).innerText.includes({name!r})", timeout=30_000)


def test_knowledge_base_tab_is_live_and_removal_asks_first(app_url, browser, tmp_path):
    """Issue 16, defect 3: the tab was frozen at server start (a document uploaded in another
    session could not be listed or removed) and one click removed a document."""
    from gradio_client import Client

    watcher = browser.new_page()
    watcher.goto(app_url)  # opened before the upload
    watcher.get_by_role("tab", name="知识库").click()
    listed(watcher, SEED_FILE.name)
    notice = tmp_path / "live-notice.txt"
    notice.write_text("关于知识库列表刷新的通知\n\n另一个会话上传的文件应当立即出现在列表中。", encoding="utf-8")
    uploader = browser.new_page()
    uploader.goto(app_url)
    upload(uploader, notice)
    uploader.close()

    fresh = browser.new_page()  # a page loaded after the change lists it at once
    fresh.goto(app_url)
    fresh.get_by_role("tab", name="知识库").click()
    listed(fresh, "uploads/live-notice.txt")
    fresh.close()
    watcher.get_by_role("tab", name="问答").click()  # the watcher sees it when it comes back to the tab
    watcher.get_by_role("tab", name="知识库").click()
    listed(watcher, "uploads/live-notice.txt")

    def choose(doc_id: str) -> None:
        watcher.locator("#doc-choice input").click()
        watcher.get_by_role("option", name=doc_id).click()

    choose("uploads/live-notice.txt")
    watcher.locator("#remove-button").click()
    watcher.locator("#confirm-text").get_by_text("uploads/live-notice.txt", exact=False).wait_for(timeout=30_000)
    watcher.locator("#cancel-remove").click()
    status_says(watcher, "已取消", 30_000)
    assert "uploads/live-notice.txt" in watcher.locator("#documents").inner_text()  # a click and a cancel: kept
    choose("uploads/live-notice.txt")
    watcher.locator("#remove-button").click()
    watcher.locator("#confirm-remove").click()
    status_says(watcher, "已删除", 120_000)
    listed(watcher, "uploads/live-notice.txt", present=False)
    assert SEED_FILE.name in watcher.locator("#documents").inner_text()
    assert watcher.locator("#confirm-row").is_hidden()
    watcher.close()
    assert "live-notice" not in str(Client(app_url, verbose=False).predict("知识库列表刷新的通知说了什么?", [], api_name="/ask"))


def open_citation(page, number: int) -> None:
    """Click 查看原文 on citation [number] and wait for the source view to show its quote."""
    card = page.locator("#citations .citation").filter(has_text=f"[{number}]").first
    card.locator("button.open-source").click()
    page.locator("#source-view mark.quote").first.wait_for(timeout=60_000)


def check_highlight_boxes(image, pdf_bytes: bytes, sentence: str) -> None:
    """The page image's `data-boxes` (pixels) are PDFium's character boxes of `sentence` on page 2,
    scaled to the image as shown, within 1 px."""
    import json

    natural_width, raw = image.evaluate("img => [img.naturalWidth, img.dataset.boxes]")
    boxes = json.loads(raw)
    assert_boxes_match(boxes, expected_pixel_boxes(pdf_bytes, 1, sentence, natural_width), sentence)


def test_citation_opens_the_source_view(app_url, browser, tmp_path):
    """Issue 35: a citation opens its document beside the answer, the quote highlighted; a PDF also
    shows its page rendered with the highlight."""
    from test_source_view import make_pdf

    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(app_url)
    assert "点击引用卡片" in page.locator("#source-view").inner_text()
    ask(page, SEED_QUESTION, "稳岗返还")
    open_citation(page, 1)
    view = page.locator("#source-view")
    quote = view.locator("mark.quote").inner_text()
    assert all(policy in quote for policy in FOUR_POLICIES), quote
    bold = view.locator("mark.quote strong.span").inner_text()  # the answer's bold span, inside the quote
    assert all(policy in bold for policy in FOUR_POLICIES) and "水利建设基金" in bold, bold
    shown = view.inner_text()
    assert "福建省工业和信息化厅关于省政协十三届二次会议第20243098号提案的答复" in shown
    assert "闽工信提案〔2024〕30号" in shown and SEED_FILE.name in shown
    assert len(shown) > 1500  # the text around the quote, not only the quote
    assert view.locator("img").count() == 0  # a text document has no page image
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "source-view.png"), full_page=True)

    sentence = "第二页写明：测绘成果应当在三十日内汇交。"
    pdf = tmp_path / "survey.pdf"
    pdf.write_bytes(make_pdf([["测绘成果汇交说明", "第一页只有目录。"], ["二、汇交时限", sentence, "逾期不予受理。"]]))
    upload(page, pdf)
    page.get_by_role("tab", name="问答").click()
    ask(page, "测绘成果应当在多少日内汇交?", "三十日")
    card = page.locator("#citations .citation").filter(has_text="survey.pdf").first
    card.locator("button.open-source").click()
    view.locator("img.page-image").wait_for(timeout=60_000)
    assert "三十日内汇交" in view.locator("mark.quote").inner_text() and "第 2 页" in view.inner_text()
    assert view.locator("img.page-image").evaluate("img => img.complete && img.naturalWidth > 100")
    page.screenshot(path=str(ARTIFACTS / "source-view-pdf.png"), full_page=True)
    check_highlight_boxes(view.locator("img.page-image"), pdf.read_bytes(), sentence)
    download = page.locator("#source-download")
    download.wait_for(state="visible", timeout=60_000)
    with page.expect_download(timeout=60_000) as fetched:
        download.click()
    assert fetched.value.suggested_filename == "survey.pdf" and Path(fetched.value.path()).read_bytes() == pdf.read_bytes()
    assert view.locator("button.page-nav").filter(has_text="下一页").count() == 0  # page 2 of 2
    view.locator("button.page-nav").filter(has_text="上一页").click()  # the neighbouring page, no highlight
    view.locator('img.page-image[alt="第 1 页"]').wait_for(timeout=60_000)
    assert view.locator("button.page-nav").filter(has_text="上一页").count() == 0 and "三十日内汇交" in view.locator("mark.quote").inner_text()
    page.close()

    # the same through the API: /source returns the place as JSON, the PDF page as a base64 PNG
    import base64

    from gradio_client import Client

    client = Client(app_url, verbose=False)
    cited = client.predict("测绘成果应当在多少日内汇交?", [], api_name="/ask")["citations"][0]
    assert cited["doc"] == "uploads/survey.pdf"
    found = client.predict(cited["doc"], cited["start"], cited["end"], api_name="/source")
    assert found["error"] is None and found["page"] == 2 and found["pages"] == 2 and found["image_page"] == 2
    assert found["text"][found["quote_start"] : found["quote_end"]] == cited["quote"] == found["quote"]
    assert base64.b64decode(found["png_base64"]).startswith(b"\x89PNG")
    seed = client.predict(SEED_FILE.name, 0, 10, api_name="/source")
    assert seed["error"] is None and seed["page"] is None and seed["png_base64"] is None and "闽工信提案〔2024〕30号" in str(seed["metadata"])
    refused = client.predict("../../etc/passwd", 0, 5, api_name="/source")
    assert refused["error"] and "not a document id" in refused["error"] and "text" not in refused
