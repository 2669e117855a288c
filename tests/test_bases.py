"""Several knowledge bases (issue 36): the registry (create, rename, remove, names and ids), the
settings each base answers with (flags > its settings.json > environment > defaults), the files
store never pruning bases/, and the command line (`rag kb …`, `--kb` on the other commands)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import ROOT
from rag.bases import registry
from rag.bases.fitted import write_fitted
from rag.bases.registry import DEFAULT_ID, DEFAULT_NAME, DefaultKnowledgeBaseError, KnowledgeBaseNameError, UnknownKnowledgeBase
from rag.config import Settings

LIBRARY = "关于图书馆开放时间的通知\n\n市图书馆每周二至周日开放，开放时间为上午九点至下午五点，周一闭馆。\n"
POOL = "关于游泳馆收费标准的通知\n\n市游泳馆成人票价为每次三十元，儿童票价为每次十五元，六岁以下免费。\n"


@pytest.fixture
def root(tmp_path) -> Settings:
    return replace(Settings.from_env(), index_dir=tmp_path / "index", store="files")


def test_the_default_base_is_the_index_folder_as_it_is(root):
    """An existing index is the default knowledge base: no kb.json, no migration, no bases/ made."""
    assert [(b.id, b.name, b.folder) for b in registry.list_bases(root)] == [(DEFAULT_ID, DEFAULT_NAME, root.index_dir)]
    for name in (None, "", DEFAULT_ID, DEFAULT_NAME):
        assert registry.settings_for(root, name) == root
    assert not root.index_dir.exists()


def test_create_names_ids_and_lookup(root):
    pool = registry.create(root, "  Pool ")
    books = registry.create(root, "图书馆 2024")
    assert (pool.id, pool.name) == ("pool", "Pool")
    assert books.id.startswith("kb-") and len(books.id) == 11 and books.name == "图书馆 2024"
    assert books.folder == root.index_dir / "bases" / books.id and (books.folder / "kb.json").is_file()
    assert json.loads((books.folder / "kb.json").read_text(encoding="utf-8"))["name"] == "图书馆 2024"
    assert [b.id for b in registry.list_bases(root)] == [DEFAULT_ID, pool.id, books.id]  # by creation
    for spelled in ("pool", "Pool", "POOL"):
        assert registry.resolve(root, spelled).id == "pool"
    assert registry.resolve(root, "图书馆 2024").id == books.id and registry.resolve(root, books.id).id == books.id
    with pytest.raises(UnknownKnowledgeBase, match=r"no knowledge base 'nope' \(existing: default \(默认知识库\), pool \(Pool\), kb-\w+ \(图书馆 2024\)\)"):
        registry.resolve(root, "nope")


@pytest.mark.parametrize(
    "name, problem",
    [("", "empty"), ("   ", "empty"), ("x" * 41, "long"), ("财政/税务", "chars"), ("a\\b", "chars"), ("新\x00库", "chars"), ("新\n库", "chars")],
)
def test_names_a_base_cannot_take(root, name, problem):
    with pytest.raises(KnowledgeBaseNameError) as caught:
        registry.create(root, name)
    assert caught.value.problem == problem
    assert [b.id for b in registry.list_bases(root)] == [DEFAULT_ID]
    assert [p.name for p in (root.index_dir / "bases").iterdir()] == [".lock"]  # nothing made but the registry's lock


def test_names_and_ids_stay_unique(root):
    registry.create(root, "财政")
    finance = registry.create(root, "finance")
    for taken in ("财政", "FINANCE", "default", DEFAULT_NAME):
        with pytest.raises(KnowledgeBaseNameError, match="already has this name") as caught:
            registry.create(root, taken)
        assert caught.value.problem == "taken"
    registry.rename(root, "finance", "财务")
    with pytest.raises(KnowledgeBaseNameError):  # its id still names it: no other base may be called so
        registry.create(root, "finance")
    assert registry.resolve(root, "finance").id == finance.id
    # `a-b` and `a_b` would share Milvus collections: the second gets a generated id
    dashed, underscored = registry.create(root, "a-b"), registry.create(root, "a_b")
    assert dashed.id == "a-b" and underscored.id.startswith("kb-")
    assert registry.create(root, "x" * 40).id == "x" * 40


def test_rename_changes_the_name_only_and_remove_deletes_the_folder(root, fake_embedder, tmp_path):
    from rag.indexing.build import build_index

    base = registry.create(root, "旧名称")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pool.txt").write_text(POOL, encoding="utf-8")
    build_index([docs], registry.settings_for(root, base.id), fake_embedder)
    renamed = registry.rename(root, "旧名称", "新名称")
    assert (renamed.id, renamed.folder, renamed.name) == (base.id, base.folder, "新名称")
    assert registry.resolve(root, "新名称").id == base.id and registry.list_bases(root, count=True)[1].documents == 1
    with pytest.raises(UnknownKnowledgeBase):
        registry.resolve(root, "旧名称")
    with pytest.raises(DefaultKnowledgeBaseError):
        registry.remove(root, DEFAULT_NAME)
    with pytest.raises(DefaultKnowledgeBaseError):
        registry.rename(root, DEFAULT_ID, "别的名字")
    registry.remove(root, "新名称")
    assert not base.folder.exists() and [b.id for b in registry.list_bases(root)] == [DEFAULT_ID]
    assert [p.name for p in (root.index_dir / "bases").iterdir()] == [".lock"]  # no debris


def test_concurrent_creates_of_one_name_make_one_base(root):
    results: list[str] = []

    def make() -> None:
        try:
            results.append(registry.create(root, "同时").id)
        except KnowledgeBaseNameError:
            results.append("refused")

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("refused") == 7 and len(registry.list_bases(root)) == 2


def test_crash_debris_is_not_a_base_and_is_swept(root):
    bases = root.index_dir / "bases"
    (bases / ".creating-half-123").mkdir(parents=True)
    (bases / "stray").mkdir()  # a folder without kb.json is no base, but its name is taken
    assert [b.id for b in registry.list_bases(root)] == [DEFAULT_ID]
    assert registry.create(root, "stray").id.startswith("kb-")
    assert not (bases / ".creating-half-123").exists()


def test_settings_precedence_flags_over_the_base_over_the_environment(root, monkeypatch):
    """settings.json beats the environment (and built-in defaults), a command-line flag beats both."""
    monkeypatch.setenv("RAG_DENSE_WEIGHT", "0.3")
    monkeypatch.setenv("RAG_FUSION", "rrf")
    env_root = replace(Settings.from_env(), index_dir=root.index_dir)
    base = registry.create(env_root, "调参")
    write_fitted(base.folder, {"retrieval.dense_weight": 0.7, "reader_min_margin": 2.5})
    settings = registry.settings_for(env_root, "调参")
    assert settings.index_dir == base.folder
    assert settings.retrieval.dense_weight == 0.7 and settings.reader_min_margin == 2.5  # the base's own
    assert settings.retrieval.fusion == "rrf" and settings.embed_model == env_root.embed_model  # the environment's
    flagged = registry.settings_for(env_root, "调参", flags={"retrieval.dense_weight": 0.9, "reader_min_margin": None})
    assert flagged.retrieval.dense_weight == 0.9 and flagged.reader_min_margin == 2.5
    assert registry.settings_for(env_root, None).retrieval.dense_weight == 0.3  # the default base has no settings.json yet
    write_fitted(env_root.index_dir, {"retrieval.dense_weight": 0.6})
    assert registry.settings_for(env_root, None).retrieval.dense_weight == 0.6  # ... now it has its own


def test_milvus_fields_of_a_named_base(root):
    milvus = replace(root, store="milvus", milvus_collection="gov")
    base = registry.create(milvus, "a-1")
    placed = registry.settings_for(milvus, "a-1")
    assert (placed.milvus_collection, placed.milvus_uri, placed.index_dir) == ("gov_a_1", "", base.folder)  # "": <its folder>/milvus.db
    shared = registry.settings_for(replace(milvus, milvus_uri="http://milvus:19530"), "a-1")
    assert (shared.milvus_collection, shared.milvus_uri) == ("gov_a_1", "http://milvus:19530")
    assert registry.settings_for(milvus, None).milvus_collection == "gov"


def test_the_files_store_never_prunes_bases(root, fake_embedder, tmp_path):
    """Publishing a generation in the default folder prunes old `gen-*` there: bases/ stays whole."""
    from rag.indexing.build import build_index
    from rag.store import manifest_of

    docs_a, docs_b = tmp_path / "a", tmp_path / "b"
    docs_a.mkdir()
    docs_b.mkdir()
    (docs_a / "library.txt").write_text(LIBRARY, encoding="utf-8")
    (docs_b / "pool.txt").write_text(POOL, encoding="utf-8")
    base = registry.create(root, "pool")
    build_index([docs_b], registry.settings_for(root, "pool"), fake_embedder)
    before = sorted(str(p.relative_to(base.folder)) for p in base.folder.rglob("*"))
    for text in ("一", "二", "三"):  # three generations: the oldest ones are pruned
        (docs_a / "library.txt").write_text(LIBRARY + text, encoding="utf-8")
        build_index([docs_a], root, fake_embedder)
    assert sorted(str(p.relative_to(base.folder)) for p in base.folder.rglob("*")) == before
    assert list(manifest_of(registry.settings_for(root, "pool")).documents) == ["pool.txt"]
    assert list(manifest_of(root).documents) == ["library.txt"]


# -- the command line ------------------------------------------------------------------------------


def rag(*args: str, index: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "RAG_INDEX_DIR": str(index), "RAG_READER": "rules", "RAG_STORE": "files", **env}
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=environment, input=stdin, capture_output=True, text=True, timeout=600)


def two_folders(tmp_path: Path) -> tuple[Path, Path]:
    library, pool = tmp_path / "library", tmp_path / "pool"
    library.mkdir()
    pool.mkdir()
    (library / "library.txt").write_text(LIBRARY, encoding="utf-8")
    (pool / "pool.txt").write_text(POOL, encoding="utf-8")
    return library, pool


def test_cli_two_bases_each_answering_from_its_own_documents(tmp_path):
    index = tmp_path / "index"
    library, pool = two_folders(tmp_path)
    out = rag("kb", "create", "图书馆", index=index)
    assert out.returncode == 0 and "created knowledge base 图书馆 (id kb-" in out.stdout, out.stderr
    assert rag("kb", "create", "Pool", index=index).returncode == 0
    refused = rag("index", str(pool), "--kb", "swimming", index=index)
    assert refused.returncode == 1 and "no knowledge base 'swimming'" in refused.stderr and "python -m rag kb create NAME" in refused.stderr
    assert not (index / "bases" / "swimming").exists()
    empty = rag("ask", "游泳馆成人票价多少?", "--kb", "pool", index=index)
    assert empty.returncode == 1 and "has no documents yet" in empty.stderr and not (index / "bases" / "pool" / "CURRENT").exists()  # not seeded
    assert rag("index", str(library), "--kb", "图书馆", "-q", index=index).returncode == 0
    assert rag("index", str(pool), "--kb", "pool", "-q", index=index).returncode == 0

    def ask(question: str, kb: str) -> dict:
        done = rag("ask", question, "--json", "--kb", kb, index=index)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    answer = ask("游泳馆成人票价多少?", "pool")
    assert not answer["refused"] and "三十元" in answer["answer"] and {c["doc"] for c in answer["citations"]} == {"pool.txt"}
    answer = ask("图书馆的开放时间是什么?", "图书馆")
    assert not answer["refused"] and "上午九点" in answer["answer"] and {c["doc"] for c in answer["citations"]} == {"library.txt"}
    elsewhere = ask("游泳馆成人票价多少?", "图书馆")  # the other base does not know the pool
    assert "三十元" not in elsewhere["answer"] and all(p["doc"] == "library.txt" for p in elsewhere["passages"])
    docs = rag("docs", "--kb", "Pool", index=index)
    assert "pool.txt" in docs.stdout and "library.txt" not in docs.stdout and "1 documents" in docs.stdout

    listed = [json.loads(line) for line in rag("kb", "list", "--json", index=index).stdout.splitlines()]
    assert [(b["name"], b["documents"]) for b in listed] == [(DEFAULT_NAME, 0), ("图书馆", 1), ("Pool", 1)]
    renamed = rag("kb", "rename", "Pool", "游泳", index=index)
    assert renamed.returncode == 0 and "renamed knowledge base Pool to 游泳" in renamed.stdout
    unconfirmed = rag("kb", "remove", "游泳", index=index, stdin="")
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr and (index / "bases" / "pool").is_dir()
    assert rag("kb", "remove", "default", "--yes", index=index).returncode == 1
    removed = rag("kb", "remove", "游泳", "--yes", index=index)
    assert removed.returncode == 0 and not (index / "bases" / "pool").exists()
    gone = rag("ask", "游泳馆成人票价多少?", "--kb", "游泳", index=index)
    assert gone.returncode == 1 and "no knowledge base '游泳'" in gone.stderr


def test_milvus_a_named_base_has_its_own_collections(tmp_path):
    """One milvus-lite file shared by two bases: their collections are apart, and removing the named
    base drops its collections only."""
    pytest.importorskip("pymilvus")
    index, lite = tmp_path / "index", tmp_path / "lite.db"
    library, pool = two_folders(tmp_path)
    env = {"RAG_STORE": "milvus", "RAG_MILVUS_URI": str(lite)}
    assert rag("kb", "create", "pool", index=index, **env).returncode == 0
    for args in (("index", str(library), "-q"), ("index", str(pool), "--kb", "pool", "-q")):
        done = rag(*args, index=index, **env)
        assert done.returncode == 0, done.stderr
    answer = json.loads(rag("ask", "游泳馆成人票价多少?", "--json", "--kb", "pool", index=index, **env).stdout)
    assert "三十元" in answer["answer"] and {c["doc"] for c in answer["citations"]} == {"pool.txt"}

    def collections() -> set[str]:
        script = f"from pymilvus import MilvusClient; print(' '.join(MilvusClient({str(lite)!r}).list_collections()))"
        return set(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300).stdout.split())

    names = collections()
    assert {"rag_meta", "rag_chunks", "rag_pool_meta", "rag_pool_chunks"} <= names
    assert rag("kb", "remove", "pool", "--yes", index=index, **env).returncode == 0
    names = collections()
    assert "rag_meta" in names and not any(n.startswith("rag_pool_") for n in names)
    answer = json.loads(rag("ask", "图书馆的开放时间是什么?", "--json", index=index, **env).stdout)
    assert "上午九点" in answer["answer"]


def test_index_into_a_named_base_needs_paths_the_default_still_takes_seeds(root, tmp_path, monkeypatch, capsys):
    """`rag index --kb NAME` without paths once indexed seeds/ into that base: now a one-line error
    with the usage, nothing built; without --kb, seeds/ as before (the model and the build stubbed)."""
    from rag.cli import main
    from rag.embedding import Embedder

    built: list[tuple[list[Path], Path]] = []

    class Report:
        ok = True

        def summary(self) -> str:
            return "indexed"

    def build_index(sources, settings, embedder, **kwargs):
        built.append((list(sources), settings.index_dir))
        return Report()

    monkeypatch.setattr(Embedder, "from_settings", lambda *args, **kwargs: None)
    monkeypatch.setattr("rag.indexing.build.build_index", build_index)
    monkeypatch.setenv("RAG_INDEX_DIR", str(root.index_dir))
    monkeypatch.setenv("RAG_STORE", "files")
    monkeypatch.chdir(ROOT)  # seeds/ is relative to where the command runs
    base = registry.create(root, "pool")
    library, pool = two_folders(tmp_path)

    assert main(["index", "--kb", "pool", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "python -m rag index PATH ... --kb pool" in err
    assert built == []
    assert main(["index", str(pool), "--kb", "pool", "-q"]) == 0
    assert built == [([pool], base.folder)]
    assert main(["index", "-q"]) == 0  # the default knowledge base: seeds/ when no paths are given
    assert built[-1] == ([Path("seeds")], root.index_dir)


def test_the_server_answers_with_new_fitted_settings_without_a_restart(root, fake_embedder, tmp_path, caplog):
    """`rag calibrate --from-log` writes a base's settings.json while the server runs: the next
    question opens that base's Assistant again with them (the same Embedder); an unchanged file
    keeps the open one, a broken one keeps answering with the settings it had."""
    from rag import Assistant
    from rag.indexing.build import build_index
    from rag.serve.bases import Bases

    library, pool = two_folders(tmp_path)
    build_index([library], root, fake_embedder)
    registry.create(root, "pool")
    build_index([pool], registry.settings_for(root, "pool"), fake_embedder)
    bases = Bases(root, fake_embedder, assistant=Assistant(registry.settings_for(root, None), embedder=fake_embedder))

    for kb, folder in ((None, root.index_dir), ("pool", root.index_dir / "bases" / "pool")):
        opened = bases.assistant(kb)
        assert bases.assistant(kb) is opened and opened.settings.retrieval.dense_weight == 0.5
        write_fitted(folder, {"retrieval.dense_weight": 0.8, "min_confidence": 0.9})
        fresh = bases.assistant(kb)
        assert fresh is not opened and fresh.embedder is fake_embedder
        assert fresh.settings.retrieval.dense_weight == 0.8 and fresh.rule_reader.threshold == 0.9
        assert bases.settings(kb).retrieval.dense_weight == 0.8 and bases.assistant(kb) is fresh
        (folder / "settings.json").write_text("{", encoding="utf-8")  # a hand edit gone wrong
        with caplog.at_level("ERROR", logger="rag.app"):
            assert bases.assistant(kb) is fresh and bases.assistant(kb) is fresh
        assert sum("could not be used" in r.getMessage() for r in caplog.records) == 1  # logged once per change
        caplog.clear()
        (folder / "settings.json").unlink()
        assert bases.assistant(kb).settings.retrieval.dense_weight == 0.5  # the file removed: the defaults again
