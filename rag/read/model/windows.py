"""Question + passage windows in token space, with exact character offsets back into the text.

A window is `[CLS] question [SEP] passage tokens [SEP]`. Every passage token keeps the (start, end)
character span it came from, so a predicted token span maps back to a real slice of the passage:
`text[window.char_start(i):window.char_end(j)]`. Long passages give several overlapping windows.
The tokenizer is e5's (XLM-R pieces); it normalises full-width characters, but offsets always
point into the original text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

MAX_TOKENS = 192  # whole window, question and special tokens included
MAX_QUESTION_TOKENS = 48
STRIDE = 64  # tokens two neighbouring windows of one passage share


@dataclass(frozen=True)
class Window:
    ids: tuple[int, ...]  # the whole input, special tokens included
    doc_offset: int  # index in `ids` of the first passage token
    offsets: tuple[tuple[int, int], ...]  # character span in the passage text of each passage token
    passage: int = 0  # which passage of a batch it reads

    @property
    def doc_tokens(self) -> int:
        return len(self.offsets)

    def char_span(self, first: int, last: int) -> tuple[int, int]:
        """Character span of passage tokens first..last (indices into `ids`)."""
        return self.offsets[first - self.doc_offset][0], self.offsets[last - self.doc_offset][1]


@dataclass(frozen=True)
class Encoded:
    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]


class WindowMaker:
    def __init__(self, tokenizer_file: Path, max_tokens: int = MAX_TOKENS, stride: int = STRIDE) -> None:
        from rag.embedding.shared_tokenizer import shared_tokenizer

        self.tokenizer = shared_tokenizer(tokenizer_file)  # the ONNX encoder's too (~280 MB once)
        special: list[int] = []
        for token in ("<s>", "</s>", "<pad>"):
            found = self.tokenizer.token_to_id(token)
            if found is None:
                raise ValueError(f"the tokenizer has no {token}")
            special.append(found)
        self.cls, self.sep, self.pad = special
        self.max_tokens, self.stride = max_tokens, stride

    def encode(self, texts: list[str]) -> list[Encoded]:
        out = []
        for enc in self.tokenizer.encode_batch(texts, add_special_tokens=False):
            pairs = [(i, o) for i, o in zip(enc.ids, enc.offsets) if o[1] > o[0]]
            # the lone "▁" piece before a CJK character shares its offsets: drop it, it carries nothing
            kept = [
                p
                for k, p in enumerate(pairs)
                if not (k + 1 < len(pairs) and pairs[k + 1][1][0] == p[1][0] and p[1] == (p[1][0], p[1][0] + 1) and pairs[k + 1][1][0] < p[1][1])
            ]
            out.append(Encoded(tuple(i for i, _ in kept), tuple(o for _, o in kept)))
        return out

    def question_ids(self, question: Encoded) -> tuple[int, ...]:
        """At most MAX_QUESTION_TOKENS, from the end: a follow-up is read as `previous current`."""
        return question.ids[-MAX_QUESTION_TOKENS:]

    def doc_room(self, question_ids: tuple[int, ...]) -> int:
        return self.max_tokens - len(question_ids) - 3

    def window(self, question_ids: tuple[int, ...], doc: Encoded, start: int, end: int, passage: int = 0) -> Window:
        ids = (self.cls, *question_ids, self.sep, *doc.ids[start:end], self.sep)
        return Window(ids, len(question_ids) + 2, doc.offsets[start:end], passage)

    def starts(self, doc_len: int, room: int) -> list[int]:
        """Window starts covering a passage of `doc_len` tokens, `stride` tokens shared."""
        if doc_len <= room:
            return [0]
        step = max(1, room - self.stride)
        starts = list(range(0, doc_len - room, step))
        return starts + [doc_len - room]

    def windows(self, question: Encoded, doc: Encoded, passage: int = 0) -> list[Window]:
        if not doc.ids:
            return []
        q = self.question_ids(question)
        room = self.doc_room(q)
        return [self.window(q, doc, s, min(s + room, len(doc.ids)), passage) for s in self.starts(len(doc.ids), room)]


@dataclass
class Batch:
    """Windows padded into tensors; `allowed` marks where a span may start or end ([CLS] included)."""

    windows: list[Window]

    @cached_property
    def tensors(self):
        import torch

        n = max(len(w.ids) for w in self.windows)
        ids = torch.ones((len(self.windows), n), dtype=torch.long)  # <pad> is 1
        valid = torch.zeros((len(self.windows), n), dtype=torch.long)
        allowed = torch.zeros((len(self.windows), n), dtype=torch.bool)
        for row, w in enumerate(self.windows):
            ids[row, : len(w.ids)] = torch.tensor(w.ids)
            valid[row, : len(w.ids)] = 1
            allowed[row, 0] = True
            allowed[row, w.doc_offset : w.doc_offset + w.doc_tokens] = True
        return ids, valid, allowed
