"""Training groups for the shared-norm stage: the windows of one question read together.

A group is one question with `size` windows: for an answerable question the window that holds its
answer and `size − 1` windows that do not; for an unanswerable one (CAIL's human-written near
misses: asked of a judgment that does not say) `size` windows of that judgment. The negatives are
the hardest our own lexical retriever finds: the stretches of the question's own document and of
the documents our BM25 (`rag.store.bm25`, character bigrams, the lexical half of retrieval) ranks
highest for the question, ordered by the IDF-weighted question bigrams they hold. A negative never
contains the answer string. Deterministic for a fixed seed.

Sources (`../shared/data`, README there), split by case or by file, never by question:
- CAIL 2019: train on dev + test cases 300…; calibrate on test cases 150–299; report on the
  first 150 test cases (the README's split). YES/NO questions have no span: skipped.
  `is_impossible` ("true"/"false" strings) is the label, whatever answer text it carries.
- the news set: train on its train file (dev is reported, on the passages train does not share with it).
- CMRC 2018 train + DRCD test (the earlier stages' data): a sample, so that the stage does not
  forget what they taught.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from rag.evaluation.datasets import is_impossible
from rag.read.model.windows import Window, WindowMaker
from rag.train.data import Example, TrainingWindow, bigrams, positive_window, read_squad

CAIL_REPORT_CASES = 150  # the first 150 cases of CAIL test: reported, never trained or calibrated on
CAIL_CALIBRATION_CASES = (150, 300)  # the next 150: calibration only


@dataclass(frozen=True)
class Question:
    """A training question; `answer` None when its document does not answer it."""

    qid: str
    source: str
    context: str
    question: str
    answer: str | None
    answer_start: int


@dataclass(frozen=True)
class Group:
    qid: str
    windows: tuple[TrainingWindow, ...]  # labels: (0, 0) for a window without the answer

    @property
    def answerable(self) -> bool:
        return any(w.start for w in self.windows)


def from_example(e: Example, source: str) -> Question:
    return Question(e.qid, source, e.context, e.question, e.answer, e.answer_start)


def cail_cases(path: Path) -> list[dict]:
    """The cases of a CAIL 2019 file, in file order (one judgment each)."""
    return [paragraph for case in json.loads(Path(path).read_text("utf-8"))["data"] for paragraph in case["paragraphs"]]


def cail_questions(cases: list[dict], source: str) -> list[Question]:
    """Span and unanswerable questions of CAIL cases (YES/NO ones skipped: they have no span)."""
    out = []
    for case in cases:
        context = case["context"]
        for qa in case["qas"]:
            if is_impossible(qa):
                out.append(Question(qa["id"], source, context, qa["question"], None, -1))
                continue
            answer = qa["answers"][0] if qa.get("answers") else None
            if not answer or answer["answer_start"] < 0 or answer["text"] in ("YES", "NO"):
                continue
            start, text = answer["answer_start"], answer["text"]
            if context[start : start + len(text)] != text:
                start = context.find(text)
                if start < 0:
                    continue
            out.append(Question(qa["id"], source, context, qa["question"], text, start))
    return out


def cail_split(data_dir: Path) -> dict[str, list[dict]]:
    """CAIL cases by split: `train` (dev + test cases 300…, each judgment once, minus any judgment
    also in the reported or calibration cases), `calibration` (test cases 150–299), `report` (the first 150 test cases)."""
    test = cail_cases(data_dir / "cail2019/cail2019_test.json")
    report = test[:CAIL_REPORT_CASES]
    lo, hi = CAIL_CALIBRATION_CASES
    held = {c["context"] for c in test[:hi]}
    train, seen = [], set(held)
    for case in cail_cases(data_dir / "cail2019/cail2019_dev.json") + test[hi:]:
        if case["context"] not in seen:  # a judgment in both files is trained on once
            seen.add(case["context"])
            train.append(case)
    return {"train": train, "calibration": test[lo:hi], "report": report}


class _Lexical:
    """Our lexical retriever over the training contexts: which documents a question finds, and how
    much of its IDF-weighted bigrams a stretch of text holds."""

    def __init__(self, contexts: list[str]) -> None:
        from rag.store.bm25 import BM25

        self.contexts = contexts
        self.bm25 = BM25.build(contexts)
        self._idf: dict[str, float] = {}

    def top(self, question: str, k: int) -> list[int]:
        import numpy as np

        scores = self.bm25.scores(question)
        k = min(k, len(scores))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        return [int(i) for i in sorted(best, key=lambda i: -scores[i]) if scores[i] > 0]

    def overlap(self, question: str, text: str) -> float:
        grams = bigrams(text)
        total = 0.0
        for g in bigrams(question):
            if g in grams:
                if g not in self._idf:
                    self._idf[g] = self.bm25.idf(g)
                total += self._idf[g]
        return total


def build_groups(questions: list[Question], maker: WindowMaker, seed: int, size: int = 3, other_documents: int = 3, progress=None) -> list[Group]:
    rng = random.Random(seed)
    contexts = sorted({q.context for q in questions})
    index = {c: i for i, c in enumerate(contexts)}
    encoded = dict(zip(contexts, maker.encode(contexts)))
    asked = maker.encode([q.question for q in questions])
    lexical = _Lexical(contexts)
    out: list[Group] = []
    for q, enc in zip(questions, asked):
        if progress:
            progress.update(1)
        qids = maker.question_ids(enc)
        room = maker.doc_room(qids)
        doc = encoded[q.context]
        positive = positive_window(doc, q.answer_start, len(q.answer), qids, room, maker, rng) if q.answer is not None else None
        if q.answer is not None and positive is None:
            continue  # the answer does not fit a window (or its offsets are lost): skipped
        candidates: list[tuple[float, float, Window]] = []
        others = [i for i in lexical.top(q.question, other_documents + 1) if i != index[q.context]][:other_documents]
        for i in [index[q.context], *others]:
            text = contexts[i]
            if q.answer is not None and i != index[q.context] and q.answer in text:
                continue  # another document that holds the answer too: not a negative
            d = encoded[text]
            for s in maker.starts(len(d.ids), room):
                w = maker.window(qids, d, s, min(s + room, len(d.ids)))
                if not w.offsets:
                    continue
                stretch = text[w.offsets[0][0] : w.offsets[-1][1]]
                if q.answer is not None and q.answer in stretch:
                    continue
                # own-document stretches first among equals: the near miss a user's folder holds
                candidates.append((lexical.overlap(q.question, stretch) + (0.5 if i == index[q.context] else 0.0), rng.random(), w))
        candidates.sort(key=lambda t: (-t[0], t[1]))
        wanted = size - (1 if positive else 0)
        # the hardest half by overlap, the rest drawn from the next few (not always the same kind)
        hard = candidates[: (wanted + 1) // 2]
        rest = candidates[len(hard) : len(hard) + 4]
        picked = hard + rng.sample(rest, min(len(rest), wanted - len(hard)))
        windows = ([positive] if positive else []) + [TrainingWindow(w, 0, 0) for _, _, w in picked]
        if windows:
            out.append(Group(q.qid, tuple(windows)))
    return out


def training_questions(data_dir: Path, seed: int, limits: dict[str, int | None]) -> dict[str, list[Question]]:
    """The stage's questions by source, each sampled to its limit (None: all)."""
    import opencc

    from rag.train.data import simplified

    rng = random.Random(seed)
    convert = opencc.OpenCC("t2s").convert
    replay = [from_example(e, "cmrc") for e in read_squad(data_dir / "cmrc2018/cmrc2018_train.json")]
    for e in read_squad(data_dir / "drcd/DRCD_test.json"):  # DRCD: one script per question, at random
        replay.append(from_example((simplified(e, convert) or e) if rng.random() < 0.5 else e, "drcd"))
    sources = {
        "cail": cail_questions(cail_split(data_dir)["train"], "cail"),
        "news": [from_example(e, "news") for e in read_squad(data_dir / "news_mrc/news_mrc_train.json")],
        "replay": replay,
    }
    out = {}
    for name, items in sources.items():
        limit = limits.get(name)
        if name == "cail" and limit is not None and limit < len(items):
            # every near miss kept (the only human-written ones), the answerable ones sampled
            misses = [q for q in items if q.answer is None]
            answerable = [q for q in items if q.answer is not None]
            items = misses[:limit] + random.Random(seed).sample(answerable, max(0, min(len(answerable), limit - len(misses))))
        elif limit is not None and limit < len(items):
            items = random.Random(seed).sample(items, limit)
        out[name] = items
    return out
