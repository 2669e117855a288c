"""Loading the trained reader: the base e5 network with the shipped weights applied, once per process.

The base weights come from the e5 build the embedder uses; the word-embedding matrix (250 k rows,
385 MB as float32) is memory-mapped from that file rather than loaded, so only the rows of the
tokens actually read take memory.
"""

from __future__ import annotations

import json
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.read.model.weights import ReaderUnavailable, load_into
from rag.read.model.windows import WindowMaker


class _WordRows:
    """Rows of the base model's word-embedding matrix, read from the safetensors file by memmap."""

    def __init__(self, path: Path, name: str = "embeddings.word_embeddings.weight") -> None:
        with open(path, "rb") as f:
            size = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(size))
        entry = header[name]
        if entry["dtype"] != "F32":
            raise ReaderUnavailable(f"{path}: word embeddings are {entry['dtype']}, expected F32")
        start, end = entry["data_offsets"]
        self.rows = np.memmap(path, dtype=np.float32, mode="r", offset=8 + size + start, shape=tuple(entry["shape"]))

    def __call__(self, ids):
        import torch

        return torch.from_numpy(np.ascontiguousarray(self.rows[ids.cpu().numpy()]))


@dataclass
class LoadedReader:
    network: Any  # ReaderNetwork (torch is imported only when the reader loads)
    maker: WindowMaker
    manifest: dict
    # one network serves every ModelReader of the process (index refreshes, threshold copies):
    # torch modules are not safe to call from many threads at once
    lock: threading.Lock = field(default_factory=threading.Lock)


_loaded: dict[tuple, LoadedReader] = {}
_load_lock = threading.Lock()


def load_reader(model_folder: Path, weights_dir: Path | None = None, dtype: str = "bfloat16") -> LoadedReader:
    """The network with the shipped weights applied (once per process). Raises ReaderUnavailable."""
    from rag.read.model import weights

    weights_dir = weights_dir or weights.WEIGHTS_DIR
    if dtype not in ("bfloat16", "float32"):
        raise ValueError(f"unsupported reader dtype {dtype!r}: use bfloat16 or float32")
    key = (str(model_folder), str(weights_dir), dtype)
    with _load_lock:
        if key in _loaded:
            return _loaded[key]
        import torch
        from safetensors import safe_open

        from rag.read.model.network import ReaderNetwork

        config = json.loads((model_folder / "config.json").read_text("utf-8"))
        network = ReaderNetwork(dict(config, vocab_size=1))
        state = {}
        with safe_open(str(model_folder / "model.safetensors"), framework="pt") as f:
            for name in f.keys():
                if name != "embeddings.word_embeddings.weight" and not name.startswith("pooler."):
                    state[name] = f.get_tensor(name)
        state["embeddings.word_embeddings.weight"] = network.word.weight.detach()
        network.load_bert(state)
        manifest = load_into(network, model_folder, weights_dir)
        network.embed_words = _WordRows(model_folder / "model.safetensors")
        del network.word
        network.eval()
        network.to(getattr(torch, dtype))
        loaded = LoadedReader(network, WindowMaker(model_folder / "tokenizer.json"), manifest)
        _loaded[key] = loaded
        return loaded
