"""The trained reader: token windows and offsets, spans, the no-answer path, the shipped weights,
the fallback when they cannot load, and the training command on a small slice."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import FOUR_POLICIES, ROOT, SEED_QUESTION
from rag.read.model.windows import Batch, WindowMaker


@pytest.fixture(scope="session")
def model_folder():
    from rag.config import default_cache_dir
    from rag.embedding.build import ensure_built

    return ensure_built(default_cache_dir())


@pytest.fixture(scope="session")
def maker(model_folder):
    return WindowMaker(model_folder / "tokenizer.json")


@pytest.mark.parametrize(
    "text",
    [
        "范廷颂于1919年6月15日在越南宁平省出生。",
        "The State Council issued 3 notices in 2024, see Art. 5.",
        "全角数字１２３和ＡＢＣ以及半角123混排，共计45.6%。",
        "《中华人民共和国民法典》第五十四条：自然人从事工商业经营……",
        "  前后有空格\n和换行的　全角空格文本  ",
    ],
)
def test_token_offsets_round_trip_to_the_text(maker, text):
    encoded = maker.encode([text])[0]
    assert encoded.ids and len(encoded.ids) == len(encoded.offsets)
    previous_end = 0
    for start, end in encoded.offsets:
        assert 0 <= start < end <= len(text) and start >= previous_end  # in order, never overlapping
        previous_end = end
    covered = "".join(text[s:e] for s, e in encoded.offsets)
    assert "".join(covered.split()) == "".join(text.split())  # every visible character, once


def test_windows_cover_a_long_passage_and_spans_stay_inside_them(maker):
    text = "。".join(f"第{i}项措施在{2000 + i}年实施，惠及{i * 7}家企业" for i in range(1, 80)) + "。"
    question = maker.encode(["哪一年实施第三十项措施?"])[0]
    doc = maker.encode([text])[0]
    windows = maker.windows(question, doc)
    assert len(windows) > 3 and all(len(w.ids) <= maker.max_tokens for w in windows)
    seen = set()
    for w in windows:
        assert w.ids[0] == maker.cls and w.ids[w.doc_offset - 1] == maker.sep and w.ids[-1] == maker.sep
        first, last = w.doc_offset, w.doc_offset + w.doc_tokens - 1
        a, b = w.char_span(first, last)
        assert text[a:b]  # a real slice
        seen.update(range(a, b))
    assert seen >= {i for i, ch in enumerate(text)}  # the windows together cover the passage
    _, _, allowed = Batch(windows).tensors
    for row, w in enumerate(windows):  # spans may start or end only on passage tokens or [CLS]
        assert allowed[row, 0] and not allowed[row, 1 : w.doc_offset].any()
        assert allowed[row, w.doc_offset : w.doc_offset + w.doc_tokens].all()
        assert not allowed[row, w.doc_offset + w.doc_tokens :].any()


def test_best_span_never_leaves_its_window_and_the_null_score_is_cls(maker):
    import torch

    from rag.read.model.decode import best_spans

    q = maker.encode(["问题?"])[0]
    windows = maker.windows(q, maker.encode(["甲乙丙丁戊己庚辛壬癸。"])[0])
    batch = Batch(windows)
    ids, _, _ = batch.tensors
    start = torch.full(ids.shape, -5.0)
    end = torch.full(ids.shape, -5.0)
    start[0, 1] = end[0, 1] = 50.0  # a question token: never a span
    start[0, -1] = 40.0  # the closing [SEP]: never a span
    w = windows[0]
    start[0, w.doc_offset + 2], end[0, w.doc_offset + 4] = 3.0, 2.0
    start[0, 0], end[0, 0] = 1.0, 1.5
    ((i, j, score, null),) = best_spans(start, end, batch, max_tokens=48)
    assert (i, j) == (w.doc_offset + 2, w.doc_offset + 4) and score == 5.0 and null == 2.5


# --- the shipped weights ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def loaded(model_folder):
    from rag.read.model.loading import load_reader

    return load_reader(model_folder)


def _passage(doc_id: str, text: str):
    from rag.types import Chunk, Document, Passage

    doc = Document(doc_id, doc_id, text, "h")
    return doc, Passage(Chunk(f"{doc_id}#0", doc_id, 0, len(text), text), 1.0, rank=1)


# Fixed CMRC 2018 dev questions (passages shortened), answered with the right span by the reader.
CMRC_DEV = [
    (
        "《战国无双3》是由哪两个公司合作开发的？",
        "《战国无双3》（）是由光荣和ω-force开发的战国无双系列的正统第三续作。本作以三大故事为主轴，分别是以武田信玄等人为主的《关东三国志》，织田信长等人为主的《战国三杰》。",
        "光荣和ω-force",
    ),
    (
        "范廷颂是什么时候被任为主教的？",
        "范廷颂枢机（，），圣名保禄·若瑟（），是越南罗马天主教枢机。1963年被任为主教；1990年被擢升为天主教河内总教区宗座署理。",
        "1963年",
    ),
    ("狼山在哪里？", "狼山，又称紫琅山，位于江苏省南通市南郊，海拔106.94米，是南通的标志。", "江苏省南通市南郊"),
]


@pytest.mark.parametrize("question,text,expected", CMRC_DEV)
def test_shipped_weights_find_the_span(loaded, question, text, expected):
    from rag.read.model.reader import ModelReader

    doc, passage = _passage("d.md", text)
    reader = ModelReader({doc.doc_id: doc}, loaded).with_threshold(float("-inf"))  # the span, whatever the refusal
    answer = reader.answer(question, [passage])
    assert not answer.refused, answer
    assert expected in answer.span or answer.span in expected and len(answer.span) >= len(expected) - 2
    cite = answer.citations[0]
    assert doc.text[cite.start : cite.end] == cite.quote and answer.span in cite.quote
    sentence = answer.sentences[0]
    assert sentence.text[sentence.span_start : sentence.span_start + len(sentence.span)] == sentence.span


def test_a_question_is_read_in_the_script_of_its_passages(loaded):
    """Issue 17: a traditional question over a simplified passage (or the other way round) was read
    as written: CMRC dev asked in traditional lost F1 70 → 44 and refused a third of its questions."""
    from rag.read.model.reader import ModelReader
    from rag.text.script import convert

    question, text, expected = CMRC_DEV[2]
    for q, t in ((convert(question, "t"), text), (question, convert(text, "t"))):
        doc, passage = _passage("d.md", t)
        reader = ModelReader({doc.doc_id: doc}, loaded)
        answer = reader.answer(q, [passage])
        assert not answer.refused, answer.text
        assert convert(answer.span, "s").startswith("江苏省南通市")
        assert answer.citations[0].quote == doc.text[answer.citations[0].start : answer.citations[0].end]


def test_a_passage_that_does_not_answer_is_refused(loaded):
    from rag.read.model.reader import ModelReader

    doc, passage = _passage("d.md", "狼山，又称紫琅山，位于江苏省南通市南郊，海拔106.94米，是南通的标志。")
    reader = ModelReader({doc.doc_id: doc}, loaded)
    answer = reader.answer("第三批“免申即享”政策目录什么时候公布？", [passage])
    assert answer.refused and answer.text.startswith("未在文档中找到相关内容") and answer.passages == (passage,)
    assert answer.confidence < reader.threshold
    assert not reader.answer("狼山在哪里？", []).citations  # nothing retrieved: refused, nothing cited
    blank_doc, blank = _passage("blank.md", "  \n  ")
    reader = ModelReader({blank_doc.doc_id: blank_doc}, loaded)
    assert reader.answer("狼山在哪里？", [blank]).refused  # a passage without a single token


def test_the_refusal_score_adds_the_weighted_lexical_support(loaded):
    """margin + weight × the rule reader's coverage: the same span is refused or answered as the
    rules say the passage covers the question or not."""
    from rag.read.model.reader import ModelReader, ReaderSettings
    from rag.types import Answer

    class Rules:
        def __init__(self, coverage):
            self.coverage, self.calls = coverage, 0

        def answer(self, question_text, passages, context_question=None, dense_z=None, question=None):
            self.calls += 1
            assert dense_z is None  # lexical only
            assert question is not None and question.text == question_text  # analysed once, by the model reader
            return Answer(question=question_text, text="", refused=False, confidence=self.coverage)

    question, text, _ = CMRC_DEV[2]
    doc, passage = _passage("d.md", text)
    plain = ModelReader({doc.doc_id: doc}, loaded, ReaderSettings(support_weight=0.0))
    margin = plain.answer(question, [passage]).confidence
    threshold = margin + 1.0  # the margin alone just misses it
    low, high = Rules(0.1), Rules(0.9)
    refused = ModelReader({doc.doc_id: doc}, loaded, ReaderSettings(min_margin=threshold, support_weight=2.0), rules=low).answer(question, [passage])
    kept = ModelReader({doc.doc_id: doc}, loaded, ReaderSettings(min_margin=threshold, support_weight=2.0), rules=high).answer(question, [passage])
    assert refused.refused and abs(refused.confidence - (margin + 0.2)) < 1e-4
    assert not kept.refused and abs(kept.confidence - (margin + 1.8)) < 1e-4 and low.calls == high.calls == 1
    unused = Rules(0.9)
    ModelReader({doc.doc_id: doc}, loaded, ReaderSettings(support_weight=0.0), rules=unused).answer(question, [passage])
    assert unused.calls == 0  # weight 0: the rule reader is not run


def test_the_lexical_support_is_that_of_the_passage_the_span_comes_from(loaded):
    """A near miss in another passage cannot lend its coverage to the span: the rule reader is asked
    about the passage of the widest-margin span only."""
    from rag.read.model.reader import ModelReader, ReaderSettings
    from rag.types import Answer

    seen: list[list[str]] = []

    class Rules:
        def answer(self, question_text, passages, context_question=None, dense_z=None, question=None):
            seen.append([p.chunk.doc_id for p in passages])
            return Answer(question=question_text, text="", refused=False, confidence=0.5)

    question, text, expected = CMRC_DEV[2]
    doc, passage = _passage("answers.md", text)
    other_doc, other = _passage("other.md", CMRC_DEV[0][1])
    reader = ModelReader({doc.doc_id: doc, other_doc.doc_id: other_doc}, loaded, ReaderSettings(support_weight=2.0), rules=Rules())
    answer = reader.answer(question, [other, passage])
    assert expected in answer.span and seen == [["answers.md"]]


def test_the_seed_questions_through_the_reader(seed_index, embedder):
    from rag import Assistant

    assistant = Assistant(replace(seed_index, reader="model"), embedder=embedder)
    assert assistant.reader.name == "model" and not assistant.reader_status
    answer = assistant.ask(SEED_QUESTION)
    assert not answer.refused and all(p in answer.text for p in FOUR_POLICIES), answer.text
    assert "水利建设基金" in answer.span
    cited = answer.citations[0]
    assert assistant.documents[cited.doc_id].text[cited.start : cited.end] == cited.quote
    assert assistant.ask("火星上有没有液态水?").refused
    # the reply speaks of two published batches and gives no date for a third: a near miss in the
    # same document, refused (no span holds a time word but the passages that do not speak of it)
    assert assistant.ask("第三批“免申即享”政策目录什么时候公布?").refused


def _copy_weights(tmp_path: Path) -> Path:
    from rag.read.model.weights import WEIGHTS_DIR

    target = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, target)
    return target


def test_damaged_or_foreign_weights_are_one_clear_message(model_folder, tmp_path):
    from rag.read.model.loading import load_reader
    from rag.read.model.weights import ReaderUnavailable

    missing = tmp_path / "none"
    with pytest.raises(ReaderUnavailable, match="train-reader"):
        load_reader(model_folder, missing)
    foreign = _copy_weights(tmp_path / "a")
    manifest = json.loads((foreign / "manifest.json").read_text("utf-8"))
    (foreign / "manifest.json").write_text(json.dumps(dict(manifest, base_sha256="0" * 64)), "utf-8")
    with pytest.raises(ReaderUnavailable, match="another base model"):
        load_reader(model_folder, foreign)
    damaged = _copy_weights(tmp_path / "b")
    blob = bytearray((damaged / "reader.safetensors").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (damaged / "reader.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ReaderUnavailable, match="does not match its manifest"):
        load_reader(model_folder, damaged)


def test_the_assistant_falls_back_to_the_rules_and_says_so(seed_index, embedder, monkeypatch, tmp_path):
    from rag import Assistant
    from rag.read.model import weights

    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "nothing")
    assistant = Assistant(replace(seed_index, reader="model"), embedder=embedder)
    assert assistant.reader.name == "rules" and "rule reader" in assistant.reader_status
    assert all(p in assistant.ask(SEED_QUESTION).text for p in FOUR_POLICIES)
    rules = Assistant(replace(seed_index, reader="rules"), embedder=embedder)
    assert rules.reader.name == "rules" and rules.reader_status == ""


def test_reader_settings_are_validated(monkeypatch):
    from rag import Settings
    from rag.errors import ConfigError

    monkeypatch.setenv("RAG_READER", "llm")
    with pytest.raises(ConfigError, match="RAG_READER"):
        Settings.from_env()
    monkeypatch.setenv("RAG_READER", "rules")
    monkeypatch.setenv("RAG_READER_MIN_MARGIN", "nan")
    with pytest.raises(ConfigError, match="RAG_READER_MIN_MARGIN"):
        Settings.from_env()
    monkeypatch.setenv("RAG_READER_MIN_MARGIN", "2.5")
    assert Settings.from_env().reader_min_margin == 2.5
    monkeypatch.setenv("RAG_READER_PASSAGE_WEIGHT", "inf")
    with pytest.raises(ConfigError, match="RAG_READER_PASSAGE_WEIGHT"):
        Settings.from_env()
    monkeypatch.setenv("RAG_READER_PASSAGE_WEIGHT", "3")
    assert Settings.from_env().reader_passage_weight == 3.0


# --- training ----------------------------------------------------------------------------------


def _squad(path: Path, rows: list[tuple[str, str, str]]) -> None:
    data = [
        {
            "title": f"t{i}",
            "paragraphs": [{"id": f"p{i}", "context": c, "qas": [{"id": f"q{i}", "question": q, "answers": [{"text": a, "answer_start": c.index(a)}]}]}],
        }
        for i, (c, q, a) in enumerate(rows)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "1", "data": data}, ensure_ascii=False), "utf-8")


def test_train_reader_runs_end_to_end_on_a_small_slice_and_resumes(tmp_path):
    rows = [
        ("狼山，又称紫琅山，位于江苏省南通市南郊，海拔106.94米。", "狼山位于哪里？", "江苏省南通市南郊"),
        ("范廷颂于1963年被任为主教，1994年被擢升为总主教。", "范廷颂哪一年被任为主教？", "1963年"),
        ("将免征水利建设基金、减征文化事业建设费等政策纳入免申即享范围。", "哪些政策纳入免申即享？", "免征水利建设基金、减征文化事业建设费"),
    ] * 4
    data = tmp_path / "data"
    _squad(data / "cmrc2018" / "cmrc2018_train.json", rows)
    _squad(data / "drcd" / "DRCD_test.json", [("臺灣位於東亞，首都為臺北。", "臺灣的首都是哪裡？", "臺北")] * 3)
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    command = [
        sys.executable,
        "-m",
        "rag",
        "train-reader",
        "--data",
        str(data),
        "--out",
        str(out),
        "--checkpoint-dir",
        str(ckpt),
        "--epochs",
        "1",
        "--batch",
        "4",
        "--warmup",
        "1",
        "--checkpoint-every",
        "1",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["examples"]["questions"] == 15 and manifest["hyperparameters"]["epochs"] == 1
    assert set(manifest["training_data"]) == {"cmrc2018/cmrc2018_train.json", "drcd/DRCD_test.json"}
    assert (out / "reader.safetensors").stat().st_size < 10_000_000 and manifest["command"].startswith("python -m rag train-reader")
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)  # finished: resumes at the end
    assert again.returncode == 0 and "resuming at step" in again.stdout, again.stdout[-1000:]
    from rag.config import default_cache_dir
    from rag.embedding.build import ensure_built
    from rag.read.model.loading import load_reader

    assert load_reader(ensure_built(default_cache_dir()), out).manifest["base_sha256"] == manifest["base_sha256"]
    # the second stage's adapters are shipped and merged into the lower blocks on load
    import torch
    from safetensors.torch import load_file

    from rag.read.model.network import ReaderNetwork
    from rag.read.model.weights import load_into

    assert manifest["lora"] == {"layers": 8, "rank": 16, "alpha": 32.0, "scale": 2.0} and manifest["format"] == 2
    folder = ensure_built(default_cache_dir())
    tensors = load_file(str(out / "reader.safetensors"))
    a, b = tensors["blocks.0.query.lora_A"].float(), tensors["blocks.0.query.lora_B"].float()
    assert a.shape == (16, 384) and b.shape == (384, 16) and b.abs().max() > 0  # B starts at zero: it was trained
    net = ReaderNetwork(json.loads((folder / "config.json").read_text("utf-8")))
    net.load_bert(load_file(str(folder / "model.safetensors")))
    before = net.blocks[0].query.weight.detach().clone()
    load_into(net, folder, out)
    assert torch.allclose(net.blocks[0].query.weight, before + 2.0 * b @ a, atol=1e-6)
    # training goes on from the shipped file: no first stage, the adapters start where they were
    out2 = tmp_path / "out2"
    more = command[: command.index("--out")] + [
        "--out",
        str(out2),
        "--checkpoint-dir",
        str(ckpt),
        "--init-from",
        str(out),
        "--seed",
        "14",
        "--batch",
        "4",
        "--warmup",
        "1",
    ]
    done = subprocess.run(more, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "activation cache" not in done.stdout and "train upper" not in done.stderr
    second = json.loads((out2 / "manifest.json").read_text("utf-8"))
    assert second["hyperparameters"]["continued"][0]["seed"] == 14 and second["hyperparameters"]["epochs"] == 1
    assert " && python -m rag train-reader" in second["command"] and "--init-from" in second["command"]
    first = json.loads((out / "manifest.json").read_text("utf-8"))  # as the resumed run rewrote it
    assert second["train_minutes_in_all"] == pytest.approx(second["train_minutes_this_run"] + first["train_minutes_in_all"], abs=0.11)
    a2 = load_file(str(out2 / "reader.safetensors"))["blocks.0.query.lora_A"].float()
    assert not torch.equal(a2, a) and torch.nn.functional.cosine_similarity(a2.flatten(), a.flatten(), dim=0) > 0.5  # moved on from a, not from scratch


@pytest.mark.parametrize(
    "text,span,mended",
    [
        ("有「战史演武」&「争霸演武」两种", "战史演武」&「争霸演武", "「战史演武」&「争霸演武」"),
        ("所谓“M-Touch”机", "M-Touch”机", "“M-Touch”机"),
        ("作品《熊猫家族》于", "《熊猫家族", "《熊猫家族》"),
        ("名为「锣鼓点，是", "「锣鼓点", "锣鼓点"),
        ("即（索尔维制碱法”）", "索尔维制碱法”）", "索尔维制碱法"),
        ("意为「最初的冈瓦那大陆", "意为「最初的冈瓦那大陆", "意为「最初的冈瓦那大陆"),  # inside, no partner: kept
        ("《红楼梦》的作者", "《红楼梦》", "《红楼梦》"),
        ("”", "”", ""),
    ],
)
def test_a_span_never_holds_half_a_bracket_pair(text, span, mended):
    from rag.read.compose import balance_brackets

    a = text.index(span)
    lo, hi = balance_brackets(text, a, a + len(span))
    assert text[lo:hi] == mended


@pytest.mark.parametrize(
    "question, span, fits",
    [
        ("第三批政策目录什么时候公布？", "(试行)", False),
        ("第三批政策目录什么时候公布？", "2024年3月", True),
        ("该法何时施行？", "公布之日起", True),
        ("督邮的地位从什么时候开始下降？", "东汉末年", True),
        ("唐朝是哪一年灭亡的？", "九〇七年", True),
        ("大坝於何時完工？", "民國六十三年", True),  # traditional question and span
        ("大坝於何時完工？", "水利署", False),
        ("第三批免申即享目录什么时候公布?", "两批省级“免申即享”惠企政策目录清单", False),  # a bare numeral is no time (issue 33)
        ("第三批免申即享目录什么时候公布?", "两个月内", True),
        ("第三批免申即享目录什么时候公布?", "定期公布", False),  # 期 alone is no time (issue 33)
        ("该政策什么时候开始实施？", "“十四五”时期", True),
        ("该馆于什么时候落成？", "十九世纪末", True),
        ("免申即享包括哪些政策？", "水利建设基金", True),  # not a when-question: any span
        ("第三批政策目录由谁公布？", "省工信厅", True),
        ("已发布几批免申即享目录？", "两批", True),  # a how-many question takes a number (issue 33)
        ("补贴标准是每人每月多少？", "800元", True),
        ("补贴标准是每人每月多少？", "按部门审核发放", False),
        ("没有问题的申报件多久能受理？", "当天申报当天受理", True),  # 多久: a word of time answers it
        ("项目资金有多少？", "三千万元", True),
        ("尚宣威是尚稷的第几个儿子？", "次子", True),
        ("托勒密王朝的海上势力几乎笼罩哪里？", "爱琴海各岛屿", True),  # 几乎 asks no number
        ("谁是画法几何的主要提出者？", "加斯帕·蒙日", True),
    ],
)
def test_a_when_or_how_many_question_is_answered_only_by_a_span_of_its_type(question, span, fits):
    from rag.read.model.decode import fits_expected
    from rag.read.question import analyse_question

    assert fits_expected(analyse_question(question).expects, span) is fits


def test_the_passage_weight_lets_the_retrieval_score_choose_between_spans(loaded):
    from rag.read.model.decode import SpanGuess
    from rag.read.model.reader import ModelReader, ReaderSettings
    from rag.types import Chunk, Passage

    text = "甲" * 40
    read = [Passage(Chunk(f"d#{i}", "d", 0, 40, text), score, rank=i + 1) for i, score in enumerate((1.0, 0.2))]
    guesses = [SpanGuess(1, 0, 2, 3.0, 5.0), SpanGuess(0, 4, 6, 2.5, 4.0)]  # best margin in the weaker passage
    plain = ModelReader({}, loaded, ReaderSettings(passage_weight=0.0))
    assert [g.passage for _, g in plain.ranked(guesses, read)] == [1, 0]
    weighted = ModelReader({}, loaded, ReaderSettings(passage_weight=2.0))
    ranked = weighted.ranked(guesses, read)
    assert [g.passage for _, g in ranked] == [0, 1] and ranked[0][0] == pytest.approx(2.5 + 2.0)
    assert weighted.with_threshold(0.0).passage_weight == 2.0


def test_a_span_below_the_threshold_is_not_quoted_however_well_its_passage_ranks(loaded):
    """The passage weight favours the top passage's span, but its own margin is under the threshold:
    the answer quotes the span that clears it, never nothing."""
    from rag.read.model.decode import SpanGuess
    from rag.read.model.reader import ModelReader, ReaderSettings
    from rag.types import Chunk, Document, Passage

    texts = {"a.md": "狼山位于江苏省南通市南郊。", "b.md": "范廷颂于1963年被任为主教。"}
    docs = {d: Document(d, d, t, "h") for d, t in texts.items()}
    read = [Passage(Chunk(f"{d}#0", d, 0, len(t), t), score, rank=i + 1) for i, ((d, t), score) in enumerate(zip(texts.items(), (1.0, 0.3)))]
    guesses = [SpanGuess(1, 4, 9, 9.0, 12.0), SpanGuess(0, 2, 9, 5.0, 8.0)]  # widest margin first, as read() gives them
    reader = ModelReader(docs, loaded, ReaderSettings(min_margin=7.0, support_weight=0.0, passage_weight=12.0))
    assert [g.passage for _, g in reader.ranked(guesses, read)] == [0, 1]  # 5 + 12 > 9 + 3.6
    answer = reader.compose("范廷颂哪一年被任为主教？", read, guesses)
    assert not answer.refused and [c.doc_id for c in answer.citations] == ["b.md"] and answer.sentences[0].span == "1963年"


def test_train_reader_without_data_says_what_is_missing(tmp_path):
    done = subprocess.run([sys.executable, "-m", "rag", "train-reader", "--data", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "cmrc2018/cmrc2018_train.json" in done.stderr


def test_the_calibrated_threshold_keeps_false_refusals_within_the_share_on_every_set():
    """CMRC-like questions share many words with their passage, a user's do not: the threshold is
    the highest that answers all but the allowed share of the answerable questions of *each* set
    that the reader answers right (refusing a wrong answer is no false refusal)."""
    import numpy as np

    from rag.train.calibrate import _trial

    rng = np.random.default_rng(0)

    def rows(n, margin, support, right=1.0):  # (margin, support, right)
        return np.stack([rng.normal(margin, 2, n), rng.uniform(*support, n), np.full(n, right)], axis=1)

    cmrc_good, cmrc_bad = rows(400, 8, (0.6, 1.0)), rows(400, 0, (0.0, 0.5), 0.0)
    lay_good, lay_bad = rows(100, 4, (0.2, 0.6)), rows(40, -2, (0.0, 0.4), 0.0)  # lower on both
    alone = _trial(4.0, {"": (cmrc_good, cmrc_bad), "lay": (lay_good[:0], lay_bad[:0])}, 0.02)
    both = _trial(4.0, {"": (cmrc_good, cmrc_bad), "lay": (lay_good, lay_bad)}, 0.02)
    assert "lay_false_refusals" not in alone and alone["refused_mean"] == alone["near_misses_refused"]
    assert both["min_margin"] < alone["min_margin"]  # the lay questions pull it down
    assert both["lay_false_refusals"] <= 0.02 and both["false_refusals"] <= 0.02
    assert both["near_misses_refused"] <= alone["near_misses_refused"]
    assert both["refused_mean"] == pytest.approx((both["near_misses_refused"] + both["lay_unanswerable_refused"]) / 2, abs=1e-4)
    # answers the reader gets wrong, however low they score, do not hold the threshold down
    wrong = np.concatenate([lay_good, rows(20, -8, (0.0, 0.1), 0.0)])
    with_wrong = _trial(4.0, {"": (cmrc_good, cmrc_bad), "lay": (wrong, lay_bad)}, 0.02)
    assert with_wrong["min_margin"] == both["min_margin"] and with_wrong["lay_answerable_refused"] > with_wrong["lay_false_refusals"]
    # right answers scoring below everything do (three of 103: more than the 2 % allowed)
    low = np.concatenate([lay_good, [[-50.0, 0.0, 1.0]] * 3])
    assert _trial(4.0, {"": (cmrc_good, cmrc_bad), "lay": (low, lay_bad)}, 0.02)["min_margin"] < -40


def test_the_question_is_analysed_once_per_model_answer(loaded, monkeypatch):
    """One typed analysis serves the span's type, the quote limit and the rules' lexical support."""
    import rag.read.model.reader as model_reader
    import rag.read.rules.extractor as extractor
    from rag.read.model.reader import ModelReader, ReaderSettings
    from rag.read.rules.extractor import AnswerExtractor

    asked: list[str] = []
    real = model_reader.analyse_question

    def counting(text):
        asked.append(text)
        return real(text)

    monkeypatch.setattr(model_reader, "analyse_question", counting)
    monkeypatch.setattr(extractor, "analyse_question", counting)
    question, text, expected = CMRC_DEV[2]
    doc, passage = _passage("d.md", text)
    rules = AnswerExtractor({doc.doc_id: doc}, idf=lambda term: 1.0)
    answer = ModelReader({doc.doc_id: doc}, loaded, ReaderSettings(support_weight=2.0, min_margin=-100.0), rules=rules).answer(question, [passage])
    assert expected in answer.span and asked == [question]


def test_a_span_in_the_title_line_answers_only_a_question_asking_for_a_name():
    from rag.read.compose import in_title_line
    from rag.types import Document

    text = "臺北市「免申即享」實施要點\n\n第二條 本要點之適用範圍，以中小企業融資利息補貼為限。\n"
    doc = Document("notice.txt", "臺北市「免申即享」實施要點", text, "")
    assert in_title_line(doc, 0, 6) and in_title_line(doc, 3, 13) and not in_title_line(doc, 3, 16)
    assert not in_title_line(doc, text.index("中小企業"), text.index("為限"))  # body text
    markdown = Document("a.md", "狼山", "# 狼山\n\n狼山位于江苏省南通市南郊。", "")
    assert in_title_line(markdown, 2, 4) and not in_title_line(markdown, 6, 8)
    untitled = Document("b.txt", "另一个标题", "第一行不是标题。\n第二行。", "")
    assert not in_title_line(untitled, 0, 4)
