"""FAQ entries (rag/faq): import from .csv (GBK too) and .xlsx, list/edit/remove, matching a
paraphrase and refusing a near miss of another place or year, the assistant answering from the
FAQ before extraction, and the command line end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from conftest import FOUR_POLICIES, ROOT, SEED_QUESTION

ID_QUESTION = "身份证丢失了如何补办？"
ID_ANSWER = "居民身份证丢失的，可到户籍所在地或全国任一办证点申请补领，补领期间可申请临时身份证。"
FEE_QUESTION = "2024年城乡居民医保个人缴费标准是多少？"
FEE_ANSWER = "2024年度城乡居民基本医疗保险个人缴费标准为每人每年400元。"
CSV = f"问题,答案,来源,文号\n{ID_QUESTION},{ID_ANSWER},公安局户政管理指南,\n{FEE_QUESTION},{FEE_ANSWER},国家医保局通知,医保发〔2024〕19号\n,只有答案的行,,\n\n"


class Counting:
    """An embedder that counts the texts it encodes (was the vector cache used?)."""

    def __init__(self, embedder) -> None:
        self.embedder, self.info, self.calls = embedder, embedder.info, 0

    def encode_queries(self, texts):
        self.calls += len(texts)
        return self.embedder.encode_queries(texts)

    def encode_passages(self, texts, show_progress=False):
        self.calls += len(texts)
        return self.embedder.encode_passages(texts)


@pytest.fixture
def store(tmp_path):
    from rag.faq import FaqStore

    return FaqStore(tmp_path / "faq")


def test_gbk_csv_import_counts_incomplete_rows(store, tmp_path):
    from rag.faq import import_file

    path = tmp_path / "faq.csv"
    path.write_bytes(CSV.encode("gbk"))
    report = import_file(store, path)
    assert (report.added, report.incomplete_rows) == ([1, 2], [4])
    entries = store.entries()
    assert [e.question for e in entries] == [ID_QUESTION, FEE_QUESTION]
    assert (entries[1].source, entries[1].doc_number, entries[1].origin) == ("国家医保局通知", "医保发〔2024〕19号", "import faq.csv")
    assert "跳过缺少问题或答案的 1 行（第 4 行）" in report.summary()


def test_xlsx_with_title_line_and_traditional_headers(store, tmp_path):
    import openpyxl

    from rag.faq import import_file

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["12345熱線常見問題"])
    sheet.append(["序號", "問題", "答覆", "來源"])
    sheet.append([1, ID_QUESTION, ID_ANSWER, "公安局"])
    book.save(tmp_path / "faq.xlsx")
    report = import_file(store, tmp_path / "faq.xlsx")
    assert report.added == [1]
    assert (store.get(1).answer, store.get(1).source) == (ID_ANSWER, "公安局")


def test_bad_headers_named_in_the_message(store, tmp_path):
    from rag.faq import FaqError, import_file

    path = tmp_path / "list.csv"
    path.write_text("标题,内容\n甲,乙\n", encoding="utf-8")
    with pytest.raises(FaqError, match="表头是：“标题”、“内容”"):
        import_file(store, path)
    assert store.entries() == []


def test_duplicates_update_or_skip(store, tmp_path):
    from rag.faq import Pair

    store.add_many([Pair(ID_QUESTION, ID_ANSWER)], origin="page")
    same = store.add_many([Pair("身份证丢失了 如何补办?", ID_ANSWER)], origin="page")  # the same question, spaced and half-width
    assert (same.added, same.unchanged) == ([], [1])
    skipped = store.add_many([Pair(ID_QUESTION, "新的答案")], origin="page", on_duplicate="skip")
    assert skipped.skipped_duplicates == [1] and store.get(1).answer == ID_ANSWER
    updated = store.add_many([Pair(ID_QUESTION, "新的答案")], origin="page")
    assert updated.updated == [1] and store.get(1).answer == "新的答案"


def test_similar_questions_column_and_same_answer_rows_merged(store, tmp_path):
    from rag.faq import FaqStore, import_file

    path = tmp_path / "faq.csv"
    rows = [
        "问题,相似问题,答案",
        f'{ID_QUESTION},"身份证掉了怎么办；身份证丢了去哪补|身份证丢失了 如何补办",{ID_ANSWER}',
        f'身份证不见了怎么补办,,"{ID_ANSWER.replace("，", ", ")}"',  # the same answer, other punctuation: merged
        f"{FEE_QUESTION},,{FEE_ANSWER}",
        f"身份证掉了怎么办,,{ID_ANSWER}",  # a 相似问题 already: that entry, unchanged
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = import_file(store, path)
    assert (report.added, report.merged, report.unchanged) == ([1, 2], [1], [1])
    assert "答案与已有条目相同的 1 行已并入该条目的相似问题（#1）" in report.summary()
    # the repeat of the question itself is dropped; the merged row's question is one more phrasing
    assert store.get(1).similar == ("身份证掉了怎么办", "身份证丢了去哪补", "身份证不见了怎么补办")
    assert store.find("身份證不見了怎麼補辦").id == 1  # a 相似问题 is found like the question, in either script
    separate = FaqStore(tmp_path / "other")
    kept = import_file(separate, path, merge_same_answer=False)
    assert kept.added == [1, 2, 3] and separate.get(2).question == "身份证不见了怎么补办"


def test_similar_questions_add_edit_and_clash(store):
    from rag.faq import FaqError

    a = store.add(ID_QUESTION, ID_ANSWER, similar=["身份证掉了怎么办", " ", "身份证掉了怎么办？"])
    assert a.similar == ("身份证掉了怎么办",)
    with pytest.raises(FaqError, match="已有相同的问题：FAQ #1（身份证掉了怎么办）"):
        store.add(FEE_QUESTION, FEE_ANSWER, similar=["身份证掉了怎么办"])
    b = store.add(FEE_QUESTION, FEE_ANSWER)
    with pytest.raises(FaqError, match="已有相同的问题：FAQ #1"):
        store.edit(b.id, similar=["身份证掉了 怎么办"])
    assert store.edit(a.id, similar=["身份证遗失补领", "临时身份证怎么办"]).similar == ("身份证遗失补领", "临时身份证怎么办")
    assert store.edit(a.id, source="公安局").similar == ("身份证遗失补领", "临时身份证怎么办")  # None keeps them
    assert store.edit(a.id, similar=[]).similar == ()


def test_a_version_1_file_is_read(store):
    store.folder.mkdir(parents=True)
    entry = {"id": 4, "question": ID_QUESTION, "answer": ID_ANSWER, "source": "", "doc_number": "", "origin": "page", "created": "", "updated": ""}
    store.path.write_text(json.dumps({"format": "rag-faq", "version": 1, "next_id": 5, "entries": [entry]}), encoding="utf-8")
    assert store.get(4).similar == ()
    assert store.add(FEE_QUESTION, FEE_ANSWER).id == 5
    assert json.loads(store.path.read_text("utf-8"))["version"] == 2


def test_edit_remove_and_ids_never_reused(store):
    from rag.faq import FaqError

    a = store.add(ID_QUESTION, ID_ANSWER)
    b = store.add(FEE_QUESTION, FEE_ANSWER)
    with pytest.raises(FaqError, match="已有相同的问题：FAQ #1"):
        store.edit(b.id, question=ID_QUESTION)
    assert store.edit(a.id, source="公安局").source == "公安局"
    assert [e.id for e in store.remove(a.id)] == [1]
    with pytest.raises(FaqError, match="没有编号为 1"):
        store.remove(1)
    assert store.add("新问题？", "新答案").id == 3
    assert json.loads(store.path.read_text("utf-8"))["format"] == "rag-faq"


@pytest.fixture(scope="module")
def book(tmp_path_factory, embedder):
    from rag.faq import FaqBook, FaqStore, Pair

    store = FaqStore(tmp_path_factory.mktemp("faq"))
    store.add_many([Pair(ID_QUESTION, ID_ANSWER), Pair(FEE_QUESTION, FEE_ANSWER)], origin="test")
    return FaqBook(store, embedder)


@pytest.mark.parametrize("question, expected", [("身份证丢了去哪里补办", 1), ("身份證遺失了如何補辦？", 1), ("2024年城乡居民医保每人交多少钱", 2)])
def test_a_paraphrase_matches(book, question, expected):
    match = book.match(question)
    assert match is not None and match.entry.id == expected


@pytest.mark.parametrize("question", ["2025年城乡居民医保个人缴费标准是多少？", "户口本丢失如何补办？", "全省规上民营工业增加值增长了多少？"])
def test_a_near_miss_does_not_match(book, question):
    assert book.match(question) is None


WAGE_QUESTION, WAGE_ANSWER = "被拖欠工资如何投诉？", "用人单位拖欠工资的，可拨打12333或到当地劳动保障监察机构投诉。"


def test_a_similar_question_matches_where_the_question_alone_does_not(tmp_path, embedder):
    from rag.faq import FaqBook, FaqStore, Pair

    store = FaqStore(tmp_path / "faq")
    store.add_many([Pair(ID_QUESTION, ID_ANSWER), Pair(WAGE_QUESTION, WAGE_ANSWER)], origin="test")
    book = FaqBook(store, embedder)
    asked = "老板一直不给发工资去哪投诉"
    alone = book.lookup(asked)
    assert alone.match is None and [m.entry.id for m in alone.suggestions] == [2]  # near: offered, not answered
    store.edit(2, similar=["老板不发工资去哪里投诉"])
    match = book.match(asked)  # the book sees the change without a restart
    assert match is not None and match.entry.id == 2 and match.phrasing == "老板不发工资去哪里投诉"
    assert book.match("户口本丢失如何补办？") is None  # the near miss stays unmatched

    counting = Counting(embedder)
    assert FaqBook(store, counting).match(asked).entry.id == 2
    assert counting.calls == 1  # the 相似问题's vector came from the cache too


def test_suggestions_below_the_answer_threshold(book):
    near = book.lookup("城乡居民医保怎么交")
    assert near.match is None and [(m.entry.id, m.score >= book.weights.suggest) for m in near.suggestions] == [(2, True)]
    assert book.lookup("全省规上民营工业增加值增长了多少？").suggestions == ()  # unrelated: nothing offered
    assert book.lookup("2025年城乡居民医保个人缴费标准是多少？").suggestions == ()  # another year: not offered
    matched = book.lookup("身份证丢了去哪里补办")
    assert matched.match is not None and matched.suggestions == ()


def test_the_vector_cache_is_reused(book, embedder):
    from rag.faq import FaqBook

    counting = Counting(embedder)
    again = FaqBook(book.store, counting)
    assert again.match("身份证丢了去哪里补办") is not None
    assert counting.calls == 1  # the question asked; the entries' vectors came from the cache


@pytest.fixture
def faq_index(seed_index, tmp_path):
    """A copy of the seed index with the two FAQ entries."""
    from rag.faq import FaqStore, Pair

    folder = tmp_path / "index"
    shutil.copytree(seed_index.index_dir, folder)
    FaqStore(folder / "faq").add_many(
        [Pair(ID_QUESTION, ID_ANSWER, "公安局户政管理指南"), Pair(FEE_QUESTION, FEE_ANSWER, "国家医保局通知", "医保发〔2024〕19号")], origin="test"
    )
    return replace(seed_index, index_dir=folder)


def test_assistant_answers_from_the_faq_first(faq_index, embedder, capsys):
    from rag import Assistant
    from rag.cli import print_answer
    from rag.faq import FaqStore
    from rag.serve.render import chat_text
    from rag.types import Suggestion

    assistant = Assistant(faq_index, embedder=embedder)
    answer = assistant.ask("身份证丢了去哪里补办")
    assert answer.text == f"{ID_ANSWER}[1]" and not answer.refused
    (citation,) = answer.citations
    assert (citation.kind, citation.doc_id, citation.title, citation.quote) == ("faq", "faq#1", ID_QUESTION, ID_ANSWER)
    assert "[1] 常见问题 FAQ #1：身份证丢失了如何补办？ · 来源：公安局户政管理指南" in chat_text(answer)
    print_answer(assistant.ask("2024年城乡居民医保每人交多少钱"), assistant)  # what `rag ask` prints
    printed = capsys.readouterr().out
    assert printed.startswith(f"{FEE_ANSWER}[1]\n")
    assert "[1] 常见问题 FAQ #2：2024年城乡居民医保个人缴费标准是多少？（来源：国家医保局通知 · 文号：医保发〔2024〕19号）" in printed
    seed = assistant.ask(SEED_QUESTION)  # not in the FAQ: extracted as before
    assert all(c.kind == "document" for c in seed.citations) and all(p in seed.text for p in FOUR_POLICIES)
    assert seed.suggestions == ()
    near = assistant.ask("城乡居民医保怎么交")  # near an entry, below its threshold: extracted (or refused), the entry offered
    assert near.citations == () or all(c.kind == "document" for c in near.citations)
    assert near.suggestions == (Suggestion(2, FEE_QUESTION),)
    offer = f"您是否想问：{FEE_QUESTION}（常见问题 FAQ #2）"
    assert offer in chat_text(near)
    print_answer(near, assistant)
    assert capsys.readouterr().out.rstrip().endswith(offer)
    follow = assistant.ask("那数字化转型方面呢?", history=["身份证丢了去哪里补办"])  # a follow-up still reads the documents
    assert all(c.kind == "document" for c in follow.citations)
    entry = FaqStore.of(faq_index).add_from_answer(SEED_QUESTION, seed)  # 👍 on an extracted answer
    assert entry.origin == "feedback" and "闽工信提案〔2024〕30号" in entry.doc_number and "稳岗返还" in entry.answer
    assert assistant.ask(SEED_QUESTION).citations[0].kind == "faq"  # the new entry is used without a restart


def _rag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )


def test_cli_import_list_ask_remove(seed_index, tmp_path):
    folder = tmp_path / "index"
    shutil.copytree(seed_index.index_dir, folder)
    (tmp_path / "faq.csv").write_bytes(CSV.encode("gbk"))
    done = _rag("faq", "import", str(tmp_path / "faq.csv"), "--index", str(folder))
    assert done.returncode == 0 and "新增 2 条" in done.stdout, done.stderr
    listed = json.loads(_rag("faq", "list", "--json", "--index", str(folder)).stdout)
    assert [e["id"] for e in listed] == [1, 2]
    edited = _rag("faq", "edit", "1", "--similar", "身份证掉了怎么办；身份证遗失补领", "--index", str(folder))
    assert edited.returncode == 0 and "已保存 / saved FAQ #1" in edited.stdout, edited.stderr
    assert "相似问题：身份证掉了怎么办；身份证遗失补领" in _rag("faq", "list", "--index", str(folder)).stdout
    asked = _rag("ask", "2024年城乡居民医保每人交多少钱", SEED_QUESTION, "城乡居民医保怎么交", "--json", "--index", str(folder))
    assert asked.returncode == 0, asked.stderr
    faq, seed, near = (json.loads(line) for line in asked.stdout.splitlines())
    assert (faq["suggestions"], seed["suggestions"]) == ([], [])
    assert near["suggestions"] == [{"faq_id": 2, "question": FEE_QUESTION}]
    assert faq["answer"] == f"{FEE_ANSWER}[1]" and faq["citations"][0]["kind"] == "faq"
    assert faq["citations"][0]["metadata"] == {"来源": "国家医保局通知", "文号": "医保发〔2024〕19号"}
    assert seed["citations"][0]["kind"] == "document" and "稳岗返还" in seed["answer"]
    assert _rag("faq", "remove", "2", "--index", str(folder)).returncode == 0
    bad = _rag("faq", "remove", "2", "--index", str(folder))
    assert bad.returncode == 1 and bad.stderr.startswith("error: 没有编号为 2")
