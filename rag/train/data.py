"""Training windows for the reader from SQuAD-format reading-comprehension sets.

Each question gives one window that holds its answer (a random placement when the passage is
longer than a window) and, for some questions, one window that does not (SQuAD 2.0 style "no
answer", labelled at [CLS]): another stretch of the same passage, another passage of the same
article, or (CMRC has one passage per article) the passage of another article that shares the most
character bigrams with the question — the near miss retrieval would hand the reader. A negative
window never contains the answer string. DRCD is traditional script: each of its questions is
used in one script, chosen at random, simplified by OpenCC (t2s) or left as it is.
Deterministic for a fixed seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from rag.read.model.windows import Encoded, Window, WindowMaker

NEGATIVE_RATE = 0.4  # negatives per question


@dataclass(frozen=True)
class Example:
    qid: str
    article: str
    context: str
    question: str
    answer: str
    answer_start: int


@dataclass(frozen=True)
class TrainingWindow:
    window: Window
    start: int  # label: index in window.ids, 0 for "no answer"
    end: int


def read_squad(path: Path) -> list[Example]:
    out = []
    for a, article in enumerate(json.loads(Path(path).read_text("utf-8"))["data"]):
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]
                start = answer["answer_start"]
                if context[start : start + len(answer["text"])] != answer["text"]:
                    found = context.find(answer["text"])
                    if found < 0:
                        continue
                    start = found
                out.append(Example(qa["id"], f"{path.name}:{a}", context, qa["question"], answer["text"], start))
    return out


def simplified(example: Example, convert) -> Example | None:
    """The example in simplified script, with the answer's offset re-found; None if it moved."""
    context, answer = convert(example.context), convert(example.answer)
    near = len(convert(example.context[: example.answer_start]))
    hits = [i for i in range(max(0, near - 3), near + 4) if context[i : i + len(answer)] == answer]
    if not answer or not hits:
        return None
    return Example(example.qid, example.article, context, convert(example.question), answer, hits[0])


def build_windows(examples: list[Example], maker: WindowMaker, seed: int, progress=None) -> list[TrainingWindow]:
    rng = random.Random(seed)
    contexts = sorted({e.context for e in examples})
    encoded_contexts = dict(zip(contexts, maker.encode(contexts)))
    questions = maker.encode([e.question for e in examples])
    by_article: dict[str, list[str]] = {}
    for e in examples:
        by_article.setdefault(e.article, [])
        if e.context not in by_article[e.article]:
            by_article[e.article].append(e.context)
    bigram_index: dict[str, list[int]] = {}
    for i, c in enumerate(contexts):
        for g in bigrams(c):
            bigram_index.setdefault(g, []).append(i)

    out: list[TrainingWindow] = []
    for e, q in zip(examples, questions):
        if progress:
            progress.update(1)
        doc = encoded_contexts[e.context]
        qids = maker.question_ids(q)
        room = maker.doc_room(qids)
        positive = positive_window(doc, e.answer_start, len(e.answer), qids, room, maker, rng)
        if positive is None:
            continue
        out.append(positive)
        if rng.random() >= NEGATIVE_RATE:
            continue
        negative = _negative(e, doc, qids, room, maker, rng, by_article, contexts, encoded_contexts, bigram_index)
        if negative is not None:
            out.append(TrainingWindow(negative, 0, 0))
    return out


def positive_window(
    doc: Encoded, answer_start: int, answer_len: int, qids: tuple[int, ...], room: int, maker: WindowMaker, rng: random.Random
) -> TrainingWindow | None:
    """The window holding the answer, placed at random where the passage is longer than a window;
    None when the answer does not fit one (or its offsets are lost)."""
    a_end = answer_start + answer_len
    first = next((i for i, (s, t) in enumerate(doc.offsets) if t > answer_start), None)
    last = next((i for i in range(len(doc.offsets) - 1, -1, -1) if doc.offsets[i][0] < a_end), None)
    if first is None or last is None or last < first or last - first + 1 > room:
        return None
    lo, hi = max(0, last + 1 - room), min(first, max(0, len(doc.ids) - room))
    start = rng.randint(lo, hi) if hi >= lo else 0
    w = maker.window(qids, doc, start, min(start + room, len(doc.ids)))
    return TrainingWindow(w, w.doc_offset + first - start, w.doc_offset + last - start)


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _negative(e, doc, qids, room, maker, rng, by_article, contexts, encoded_contexts, bigram_index) -> Window | None:
    def clean(w: Window, text: str) -> Window | None:
        return None if not w.offsets or e.answer in text[w.offsets[0][0] : w.offsets[-1][1]] else w

    choice = rng.random()
    a_end = e.answer_start + len(e.answer)
    # 1) another stretch of the same passage, not overlapping the answer
    if choice < 0.4 and len(doc.ids) > room:
        starts = [
            s for s in maker.starts(len(doc.ids), room) if doc.offsets[min(s + room, len(doc.ids)) - 1][1] <= e.answer_start or doc.offsets[s][0] >= a_end
        ]
        if starts:
            s = rng.choice(starts)
            return clean(maker.window(qids, doc, s, min(s + room, len(doc.ids))), e.context)
    # 2) another passage of the same article, else the nearest passage of another article
    others = [c for c in by_article[e.article] if c != e.context]
    if others:
        other = rng.choice(others)
    else:
        votes: dict[int, int] = {}
        for g in bigrams(e.question):
            postings = bigram_index.get(g, ())
            if len(postings) > 200:  # too common to tell passages apart
                continue
            for i in postings:
                votes[i] = votes.get(i, 0) + 1
        ranked = sorted(votes, key=lambda i: (-votes[i], i))
        ranked = [i for i in ranked[:5] if contexts[i] != e.context]
        if not ranked:
            return None
        other = contexts[ranked[0]]
    odoc = encoded_contexts[other]
    s = rng.choice(maker.starts(len(odoc.ids), room))
    return clean(maker.window(qids, odoc, s, min(s + room, len(odoc.ids))), other)
