"""Issue 17: a question in either script finds and answers from documents in the other one, and the
answer quotes the document's own characters at exact offsets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.text.script import convert, fold, fold_chars
from rag.text.segment import char_bigrams

SIMPLIFIED = (
    "关于实施惠企政策“免申即享”的通知\n\n"
    "一、总体要求\n\n符合条件的企业无需提出申请即可享受政策。\n\n"
    "二、适用范围包括水利建设基金、文化事业建设费、失业保险稳岗返还等项目。\n\n"
    "三、工作要求\n\n各地要在2024年6月30日前完成政策清单梳理，并通过闽政通平台向企业推送。\n"
)
TRADITIONAL = convert(SIMPLIFIED, "t")


def test_fold_maps_traditional_and_regional_forms_to_simplified():
    assert fold("免申即享適用範圍包括哪些項目？") == "免申即享适用范围包括哪些项目？"
    assert fold("臺灣") == fold("台湾") == "台湾"
    assert fold("裡面") == fold("裏面") == fold("里面")  # Taiwan, Hong Kong and OpenCC forms of 里
    assert fold("軟體") == "软件"  # Taiwan phrase table
    assert fold(SIMPLIFIED) == SIMPLIFIED  # simplified text passes unchanged


def test_fold_chars_keeps_every_offset():
    text = "網際網路上的軟體，臺灣。"
    folded = fold_chars(text)
    assert len(folded) == len(text)
    assert folded.startswith("网际网路") and folded[9:11] == "台湾"


def test_bm25_terms_are_the_same_in_both_scripts():
    assert set(char_bigrams(TRADITIONAL)) == set(char_bigrams(SIMPLIFIED))
    assert TRADITIONAL != SIMPLIFIED and "適用範圍" in TRADITIONAL


@pytest.fixture
def assistant_over(tmp_path, fake_embedder):
    from rag import Assistant, Settings, build_index

    def make(text: str, name: str, encoding: str = "utf-8"):
        docs = tmp_path / f"docs-{name}"
        docs.mkdir()
        (docs / name).write_bytes(text.encode(encoding))
        settings = replace(Settings.from_env(), index_dir=tmp_path / f"index-{name}")
        report = build_index([docs], settings, fake_embedder)
        assert report.ok and report.chunks
        return Assistant(settings, embedder=fake_embedder)

    return make


@pytest.mark.parametrize("encoding", ["utf-8", "big5"])
@pytest.mark.parametrize("question", ["免申即享適用範圍包括哪些項目？", "免申即享适用范围包括哪些项目？"])
def test_traditional_notice_answers_questions_in_either_script(assistant_over, encoding, question):
    """The issue's report: the Big5 file was skipped, and both questions were refused."""
    assistant = assistant_over(TRADITIONAL, f"notice-{encoding}.txt", encoding)
    answer = assistant.ask(question)
    assert not answer.refused, answer.text
    cited = answer.citations[0]
    assert "水利建設基金" in cited.quote and "失業保險穩崗返還" in cited.quote  # the document's own characters
    assert assistant.documents[cited.doc_id].text[cited.start : cited.end] == cited.quote


def test_simplified_notice_answers_a_traditional_question(assistant_over):
    assistant = assistant_over(SIMPLIFIED, "notice.txt")
    answer = assistant.ask("政策清單要在什麼時候前完成梳理？")
    assert not answer.refused, answer.text
    assert "2024年6月30日" in answer.text and "政策清单" in answer.citations[0].quote
    assert assistant.ask("如何辦理護照？").refused  # folding does not make everything match


def test_an_index_of_the_previous_format_asks_to_be_rebuilt(tmp_path, fake_embedder):
    """Format 6 folds BM25 terms: an index written before cannot be searched with folded queries."""
    import json

    from rag import Settings, build_index
    from rag.errors import IndexMismatchError
    from rag.store.files import live_generation, read_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(SIMPLIFIED, encoding="utf-8")
    settings = replace(Settings.from_env(), index_dir=tmp_path / "index")
    build_index([docs], settings, fake_embedder)
    manifest = live_generation(settings.index_dir) / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps(dict(data, format_version=5)), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="rebuild"):
        read_index(settings.index_dir, verify=False)


def test_a_question_converted_to_traditional_follows_its_passages_regional_forms():
    from rag.text.script import like, written_in

    assert like("里面的台湾", "t", "臺灣的資料都在這裡面") == "裡面的臺灣"  # Taiwan forms
    assert like("里面", "t", "香港的資料都在這裏面") == "裏面"  # Hong Kong / OpenCC forms
    assert like("適用範圍", "s", "") == "适用范围"
    assert written_in("免申即享包括哪些政策") == "s" and written_in("免申即享適用範圍包括哪些項目") == "t"
