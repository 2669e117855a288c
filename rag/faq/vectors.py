"""The FAQ entries' vectors (each question as an e5 query, each answer as an e5 passage), cached in
`<index_dir>/faq/vectors.npz` so that a start or a change of the list encodes only what is new.

The cache describes itself (`vectors.json`: format, model, backend, dimension) and is used only by
an embedder with the same three; another one ignores it and writes its own. Rows are keyed by the
sha1 of the kind and the text that was encoded, so an edited entry gets new vectors and a removed
one's are dropped at the next write. Written to temporary files and moved into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

FORMAT = "rag-faq-vectors/1"


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _describe(info) -> dict:
    return {"format": FORMAT, "model": info.model, "backend": getattr(info, "backend", ""), "dimension": int(info.dimension)}


def _load(folder: Path, info) -> dict[str, np.ndarray]:
    try:
        meta = json.loads((folder / "vectors.json").read_text(encoding="utf-8"))
        if meta != _describe(info):
            return {}
        with np.load(folder / "vectors.npz") as data:
            keys, vectors = data["keys"], data["vectors"]
    except (OSError, ValueError, KeyError):  # none yet, or damaged: encode again
        return {}
    if vectors.ndim != 2 or vectors.shape[1] != info.dimension or len(keys) != len(vectors):
        return {}
    return {str(k): v for k, v in zip(keys, vectors)}


def _replace(folder: Path, name: str, write: Callable[[str], object]) -> None:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save(folder: Path, info, keys: list[str], vectors: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)

    def write_arrays(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=np.array(keys, dtype="<U40"), vectors=vectors.astype(np.float32))

    _replace(folder, "vectors.npz", write_arrays)
    _replace(folder, "vectors.json", lambda tmp: Path(tmp).write_text(json.dumps(_describe(info)), encoding="utf-8"))


def cached_vectors(folder: Path, embedder, texts: Sequence[tuple[str, str]]) -> np.ndarray:
    """Vectors of `texts`, each `(kind, text)` with kind "query" or "passage" (rows in order), from
    the cache where it has them; the cache is rewritten when it lacked some or held others."""
    info = embedder.info
    if not texts:
        return np.zeros((0, info.dimension), dtype=np.float32)
    cached = _load(folder, info)
    keys = [text_key(f"{kind}: {text}") for kind, text in texts]
    missing = list(dict.fromkeys((kind, text) for (kind, text), key in zip(texts, keys) if key not in cached))
    for kind in ("query", "passage"):
        batch = [text for k, text in missing if k == kind]
        if batch:
            encoded = embedder.encode_queries(batch) if kind == "query" else embedder.encode_passages(batch)
            cached.update(zip((text_key(f"{kind}: {t}") for t in batch), encoded))
    vectors = np.stack([cached[k] for k in keys]).astype(np.float32)
    if missing or len(cached) != len(set(keys)):
        unique = list(dict.fromkeys(keys))
        try:
            _save(folder, info, unique, np.stack([cached[k] for k in unique]))
        except OSError:  # a read-only knowledge base still answers; it encodes again next start
            pass
    return vectors
