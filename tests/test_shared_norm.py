"""The shared-norm training stage (issue 33): its loss, its groups and hard negatives, the CAIL
splits (the reported cases never trained or calibrated on), the reader's shared "no answer", and
the command on a tiny slice (smoke test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from rag.read.model.windows import WindowMaker
from rag.train.data import TrainingWindow
from rag.train.groups import Group, Question, build_groups, cail_questions, cail_split


@pytest.fixture(scope="module")
def maker():
    from rag.config import default_cache_dir
    from rag.embedding.build import ensure_built

    return WindowMaker(ensure_built(default_cache_dir()) / "tokenizer.json")


def _window(tokens: int):
    from rag.read.model.windows import Window

    return Window(tuple(range(tokens)), 2, tuple((i, i + 1) for i in range(tokens - 3)))


def test_the_loss_normalises_over_all_windows_of_a_question():
    import torch

    from rag.train.shared_norm import group_loss

    torch.manual_seed(0)
    s, e = torch.randn(5, 8), torch.randn(5, 8)
    allowed = torch.zeros(5, 8, dtype=torch.bool)
    allowed[:, 0] = True
    allowed[:, 2:7] = True
    answerable = Group("a", (TrainingWindow(_window(8), 0, 0), TrainingWindow(_window(8), 3, 4), TrainingWindow(_window(8), 0, 0)))
    unanswerable = Group("b", (TrainingWindow(_window(8), 0, 0), TrainingWindow(_window(8), 0, 0)))
    loss = group_loss(s, e, allowed, [answerable, unanswerable])

    def nll(logits, rows, gold):  # −log softmax over the rows' allowed positions, gold (row, col) summed
        flat = torch.cat([logits[r][allowed[r]] for r in rows])
        cols = [torch.nonzero(allowed[r]).flatten().tolist() for r in rows]
        index = [sum(len(c) for c in cols[:k]) + cols[k].index(col) for k, col in gold]
        return torch.logsumexp(flat, 0) - torch.logsumexp(flat[index], 0)

    first = (nll(s, [0, 1, 2], [(1, 3)]) + nll(e, [0, 1, 2], [(1, 4)])) / 2
    second = (nll(s, [3, 4], [(0, 0), (1, 0)]) + nll(e, [3, 4], [(0, 0), (1, 0)])) / 2  # [CLS] of either window
    assert float(loss) == pytest.approx(float((first + second) / 2), abs=1e-5)
    # a span in another window of the same question competes with the gold one: raising it costs
    s2 = s.clone()
    s2[0, 3] += 5
    assert float(group_loss(s2, e, allowed, [answerable, unanswerable])) > float(loss)


def _cail_case(context: str, qas: list[tuple[str, str | None, str]]) -> dict:
    rows = []
    for n, (question, answer, impossible) in enumerate(qas):
        if answer in ("YES", "NO"):
            answers = [{"answer_start": -1, "text": answer}]
        elif answer is None:
            answers = []
        else:
            answers = [{"answer_start": context.index(answer), "text": answer}]
        rows.append({"question": question, "answers": answers, "id": f"{abs(hash(context)) % 10_000}_{n}", "is_impossible": impossible})
    return {"caseid": str(abs(hash(context)) % 10_000), "domain": "civil", "paragraphs": [{"context": context, "casename": "", "qas": rows}]}


def _cail_file(path: Path, cases: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "1.0", "data": cases}, ensure_ascii=False), "utf-8")


def test_cail_questions_read_the_label_strings_and_skip_yes_no():
    case = _cail_case(
        "原告张某与被告李某于2010年登记结婚，婚后育有一子。",
        [("双方何时登记结婚？", "2010年", "false"), ("原告是否同意离婚？", "YES", "false"), ("被告的工资是多少？", None, "true")],
    )
    got = cail_questions([case["paragraphs"][0]], "cail")
    assert [(q.question, q.answer) for q in got] == [("双方何时登记结婚？", "2010年"), ("被告的工资是多少？", None)]
    assert got[0].context[got[0].answer_start :].startswith("2010年")


def test_cail_split_keeps_the_reported_cases_out_of_training_and_calibration(tmp_path):
    test_cases = [_cail_case(f"第{i}号判决书：原告王{i}诉被告赵{i}借款合同纠纷一案。", [("借款合同纠纷的原告是谁？", f"王{i}", "false")]) for i in range(400)]
    shared = test_cases[3]  # one judgment in both files (as CAIL has): it is reported, so never trained on
    dev_cases = [shared] + [_cail_case(f"开发集判决{i}：被告钱{i}应归还借款。", [("谁应归还借款？", f"钱{i}", "false")]) for i in range(20)]
    _cail_file(tmp_path / "cail2019" / "cail2019_test.json", test_cases)
    _cail_file(tmp_path / "cail2019" / "cail2019_dev.json", dev_cases)
    split = cail_split(tmp_path)
    contexts = {k: {c["context"] for c in v} for k, v in split.items()}
    assert len(split["report"]) == 150 and len(split["calibration"]) == 150
    assert split["report"][0]["context"].startswith("第0号") and split["calibration"][0]["context"].startswith("第150号")
    assert not contexts["train"] & contexts["report"] and not contexts["train"] & contexts["calibration"]
    assert not contexts["report"] & contexts["calibration"]
    assert len(split["train"]) == 20 + 100  # dev without the shared judgment, test cases 300…


def test_groups_hold_the_answer_once_and_hard_negatives_that_never_do(maker):
    context = "本办法自2024年1月1日起施行。" + "申请人应当提交身份证明、收入证明和居住证明等材料。" * 12 + "补贴标准为每人每月800元，按季度发放。"
    other = "补贴资金按季度拨付，每人每月的标准由市财政局另行公布。" * 6
    unrelated = "狼山位于江苏省南通市南郊，海拔106.94米。"
    questions = [
        Question("q1", "t", context, "补贴标准为每人每月多少？", "800元", context.index("800元")),
        Question("q2", "t", context, "补贴资金由哪个部门审核？", None, -1),
        Question("q3", "t", other, "狼山的海拔是多少？", None, -1),
        Question("q4", "t", unrelated, "狼山位于哪里？", "江苏省南通市南郊", 0),
    ]
    groups = {g.qid: g for g in build_groups(questions, maker, seed=1, size=3)}
    answered = groups["q1"]
    assert len(answered.windows) == 3 and answered.answerable
    positive = [w for w in answered.windows if w.start]
    assert len(positive) == 1
    a, b = positive[0].window.char_span(positive[0].start, positive[0].end)
    assert context[a:b] == "800元"
    for w in answered.windows:
        if not w.start:  # a negative: the answer is nowhere in it, whichever document it comes from
            assert w.end == 0 and all("800元" not in t[w.window.offsets[0][0] : w.window.offsets[-1][1]] for t in (context, other))
    # the hardest negative is the stretch most like the question (the other document's 每人每月 / 季度)
    assert not groups["q2"].answerable and all(w.start == w.end == 0 for w in groups["q2"].windows)
    assert groups["q4"].answerable


def test_the_reader_sets_a_span_against_the_best_no_answer_of_all_windows_when_trained_so():
    """With `"norm": "shared"` a span's margin is against the highest [CLS] score of every window
    read (scores are comparable across windows); otherwise against its own window's."""
    from rag.read.model.reader import ModelReader

    class Loaded:
        def __init__(self, norm):
            self.manifest = {"norm": norm} if norm else {}

    assert ModelReader({}, Loaded("shared")).shared_norm and not ModelReader({}, Loaded(None)).shared_norm  # type: ignore[arg-type]


def test_shared_norm_training_runs_on_a_tiny_slice_and_records_what_it_never_read(tmp_path):
    from test_reader import _squad

    data = tmp_path / "data"
    rows = [
        ("狼山，又称紫琅山，位于江苏省南通市南郊，海拔106.94米。", "狼山位于哪里？", "江苏省南通市南郊"),
        ("范廷颂于1963年被任为主教，1994年被擢升为总主教。", "范廷颂哪一年被任为主教？", "1963年"),
    ] * 2
    _squad(data / "cmrc2018" / "cmrc2018_train.json", rows)
    _squad(data / "drcd" / "DRCD_test.json", [("臺灣位於東亞，首都為臺北。", "臺灣的首都是哪裡？", "臺北")] * 2)
    _squad(data / "news_mrc" / "news_mrc_train.json", [("新华社北京3月5日电，十四届全国人大三次会议在北京开幕。", "会议在哪里开幕？", "北京")] * 3)
    _squad(data / "cmrc2018" / "cmrc2018_dev.json", [("报告集里的一段：长江是中国第一长河。", "中国第一长河是哪条？", "长江")])
    asked = [("双方何时登记结婚？", "{year}", "false"), ("被告名下有几套房产？", None, "true")]
    cases = [
        _cail_case(f"第{i}号判决：原告王{i}与被告赵{i}于200{i % 10}年登记结婚，被告月收入5000元。", [(q, a and f"200{i % 10}年", x) for q, a, x in asked])
        for i in range(310)
    ]
    _cail_file(data / "cail2019" / "cail2019_test.json", cases)
    _cail_file(data / "cail2019" / "cail2019_dev.json", cases[300:] + cases[:2])  # two reported judgments in dev too: left out
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    command = [sys.executable, "-m", "rag", "train-reader", "--shared-norm", "--init-from", str(ROOT / "rag/read/model/weights")]
    command += ["--data", str(data), "--out", str(out), "--checkpoint-dir", str(ckpt)]
    command += ["--groups-per-step", "4", "--shared-warmup", "1", "--checkpoint-every", "2"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    stage = manifest["shared_norm"]
    assert manifest["norm"] == "shared" and stage["questions"] == {"cail": 20, "news": 3, "replay": 6}
    assert stage["unanswerable_groups"] == 10 and "--shared-norm" in manifest["command"]
    held = stage["held_out"]
    assert held["cail_test_first_150_cases"]["shared_with_training"] == 0 and held["cail_test_first_150_cases"]["passages"] == 150
    assert held["cmrc_dev"]["shared_with_training"] == 0 and held["drcd_dev"] == {"file": "drcd/DRCD_dev.json", "absent": True}
    assert "calibration" not in manifest and manifest["calibration_before_shared_norm"]  # to be calibrated again
    assert (out / "reader.safetensors").stat().st_size < 10_000_000
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)  # finished: resumes at the end
    assert again.returncode == 0 and "resuming at step" in again.stdout, again.stdout[-1000:]
    from rag.config import default_cache_dir
    from rag.embedding.build import ensure_built
    from rag.read.model.loading import load_reader

    assert load_reader(ensure_built(default_cache_dir()), out).manifest["norm"] == "shared"


def test_the_shipped_reader_was_never_trained_or_calibrated_on_a_reported_set():
    """The manifest records, per reported set, its passages' hash and how many of them the training
    questions were asked of (0; the news set's own train/dev overlap is reported on the rest), and
    which sets calibration read: CMRC trial from question 600, the lay questions, CAIL test 150-299."""
    from rag.read.model.weights import read_manifest
    from rag.train.shared_norm import SHARED_BY_THE_SOURCE

    manifest = read_manifest()
    assert manifest["norm"] == "shared"
    stage = manifest["shared_norm"]
    held = stage["held_out"]
    assert {"cail_test_first_150_cases", "cail_test_calibration_cases_150_299", "cmrc_dev", "cmrc_trial", "drcd_dev", "news_dev"} <= set(held)
    for name, check in held.items():
        assert len(check["passages_sha256"]) == 64 and len(check["file_sha256"]) == 64
        if name not in SHARED_BY_THE_SOURCE:
            assert check["shared_with_training"] == 0, name
    assert held["cail_test_first_150_cases"]["cases"] == [0, 150] and held["cail_test_first_150_cases"]["passages"] == 150
    trained = set(stage["training_data"])
    assert not any(f.endswith(("cmrc2018_dev.json", "cmrc2018_trial.json", "DRCD_dev.json", "news_mrc_dev.json")) for f in trained)
    assert all(len(v["sha256"]) == 64 for v in stage["training_data"].values())
    calibration = manifest["calibration"]
    assert calibration["set"] == "cmrc2018_trial.json" and calibration["skipped"] == 600
    assert calibration["cail_set"] == "cail2019_test-cases150-300" and calibration["lay_set"] == "national_reports_questions"
