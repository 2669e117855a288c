"""RAG_STORE=milvus the way a user runs it: the CLI (index, ask, docs, an incremental re-index) and
the web chat in Chromium (the seed question, an upload answered), on milvus-lite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from test_web import ask, browser, start_app, upload  # noqa: F401 - `browser` is a fixture

from conftest import FOUR_POLICIES, ROOT, SEED_FILE, SEED_QUESTION

pytest.importorskip("pymilvus")


def run_cli(*args: str, index, stdin=None):
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAG_INDEX_DIR=str(index), RAG_STORE="milvus")
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=600)


def test_cli_on_milvus_index_ask_docs_and_incremental_update(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    shutil.copy(SEED_FILE, docs / SEED_FILE.name)
    out = run_cli("index", str(docs), index=index)
    assert out.returncode == 0, out.stderr
    assert (index / "milvus.db").exists() and not list(index.glob("gen-*"))  # the data went to Milvus, not to FAISS files

    out = run_cli("ask", SEED_QUESTION, "--json", index=index)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert not answer["refused"] and all(p in answer["answer"] for p in FOUR_POLICIES)
    c = answer["citations"][0]
    assert c["doc"] == SEED_FILE.name and SEED_FILE.read_text(encoding="utf-8")[c["start"] : c["end"]] == c["quote"]

    (docs / "charging.txt").write_text("新能源汽车充电设施建设奖励办法。\n\n每个公共充电桩一次性奖励三千元，由所在县区工信部门受理。", encoding="utf-8")
    out = run_cli("index", str(docs), index=index)
    assert out.returncode == 0, out.stderr
    assert "1 added" in out.stdout and "1 unchanged" in out.stdout and "embedded 1 chunks" in out.stdout  # only the new file
    out = run_cli("docs", index=index)
    assert out.returncode == 0 and "2 documents" in out.stdout and "charging.txt" in out.stdout
    out = run_cli("ask", "公共充电桩奖励多少钱?", "--json", index=index)
    first = json.loads(out.stdout)
    assert not first["refused"] and "三千元" in first["answer"] and first["citations"][0]["doc"] == "charging.txt"

    out = run_cli("remove", "charging.txt", index=index)
    assert out.returncode == 0, out.stderr
    out = run_cli("ask", "公共充电桩奖励多少钱?", "--json", index=index)
    assert all(c["doc"] != "charging.txt" for c in json.loads(out.stdout)["citations"])


@pytest.fixture(scope="module")
def milvus_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("milvus-app")
    proc, url = start_app(folder, RAG_STORE="milvus")
    yield url, folder
    proc.terminate()
    proc.wait(timeout=30)


def test_web_chat_on_milvus_answers_the_seed_question_and_an_upload(milvus_app, browser, tmp_path):  # noqa: F811
    url, folder = milvus_app
    assert (folder / "index" / "milvus.db").exists()
    page = browser.new_page()
    page.goto(url)
    ask(page, SEED_QUESTION, "失业保险稳岗返还")
    chat = page.locator("#chat").inner_text()
    assert all(p in chat for p in FOUR_POLICIES) and "[1]" in chat
    assert SEED_FILE.stem in page.locator("#citations").inner_text() or "闽工信" in page.locator("#citations").inner_text()
    note = tmp_path / "充电桩奖励.txt"
    note.write_text("新能源汽车充电设施建设奖励办法。\n\n每个公共充电桩一次性奖励三千元，由所在县区工信部门受理。", encoding="utf-8")
    upload(page, note)
    page.get_by_role("tab", name="问答").click()
    ask(page, "公共充电桩奖励多少钱?", "三千元")
    page.close()


def test_a_milvus_lite_file_open_in_another_process_is_one_clear_line(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    shutil.copy(SEED_FILE, docs / SEED_FILE.name)
    assert run_cli("index", str(docs), index=index).returncode == 0
    hold = "import sys, time; from pymilvus import MilvusClient; MilvusClient(sys.argv[1]); print('open', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(index / "milvus.db")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        out = run_cli("docs", index=index)
        assert out.returncode != 0 and out.stderr.strip().count("\n") == 0
        assert "open in another process" in out.stderr and "milvus-lite server --data-dir" in out.stderr
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("docs", index=index).returncode == 0  # free again once the other process is gone
