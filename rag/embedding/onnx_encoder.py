"""The ONNX Runtime encoder: e5-small exported with int8 MatMuls (built by onnx_build at first use).

About 3x the torch float32 model's passages/s on a 2-core CPU, cosine >= 0.99 to its vectors on
every agreement text (tests/test_onnx_encoder.py; figures in docs/embedder.md). onnxruntime's
`InferenceSession.run` may be called from several threads at once, so there is no lock: a question
is not held up behind an upload's batch. The word vectors of the tokens are looked up in the
memory-mapped table beside the graph (onnx_build.py): only the pages of rows read stay in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.embedding.build import PASSAGE_PROMPT, QUERY_PROMPT
from rag.embedding.onnx_build import MODEL_FILE, QUANTISATION, WORDS_FILE, ensure_onnx_built
from rag.embedding.shared_tokenizer import shared_tokenizer

MAX_TOKENS = 512


def truncated(ids: list[int]) -> list[int]:
    """As sentence-transformers truncates: `<s>`, the first 510 tokens, `</s>`."""
    return ids if len(ids) <= MAX_TOKENS else ids[: MAX_TOKENS - 1] + ids[-1:]


class OnnxEncoder:
    def __init__(self, cache_dir: Path, batch_size: int = 16, threads: int = 0) -> None:
        import onnxruntime as ort

        folder = ensure_onnx_built(cache_dir)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads  # 0: one per physical core
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        self._words = np.load(folder / WORDS_FILE, mmap_mode="r")
        self._tokenizer = shared_tokenizer(folder / "tokenizer.json")  # the reader's too: not changed here
        self._pad_id = self._tokenizer.token_to_id("<pad>")
        self._batch_size = batch_size
        self.name = f"onnx-{QUANTISATION}"
        self.dimension = int(self._session.get_outputs()[0].shape[-1] or 384)
        self.max_tokens = MAX_TOKENS
        self.prompts = {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT}

    def _run(self, texts: list[str]) -> np.ndarray:
        rows = [truncated(e.ids) for e in self._tokenizer.encode_batch(texts)]
        width = max(len(r) for r in rows)
        ids = np.full((len(texts), width), self._pad_id, np.int64)
        mask = np.zeros((len(texts), width), np.int64)
        for row, r in enumerate(rows):
            ids[row, : len(r)] = r
            mask[row, : len(r)] = 1
        return self._session.run(None, {"inputs_embeds": self._words[ids], "attention_mask": mask})[0]

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths: little padding
        batches = range(0, len(order), self._batch_size)
        if show_progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="Batches")
        for first in batches:
            rows = order[first : first + self._batch_size]
            out[rows] = self._run([texts[i] for i in rows])
        return out
