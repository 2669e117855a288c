"""Which knowledge bases exist, where each is kept, and the settings each answers with.

A knowledge base is one index folder; everything of it lives there (the index, `uploads/`,
`settings.json`, `log/`, `faq/`). The default one is the index folder of today (`RAG_INDEX_DIR` /
`--index`, id `default`, shown as 默认知识库) and needs no `kb.json`: an existing index is the
default knowledge base as it stands. Named ones live in `<default index folder>/bases/<id>/`, each
a full index folder with a `kb.json` (display name, created time). The id is the given name when it
spells one (`[a-z0-9][a-z0-9_-]{0,39}`, lower-cased), else `kb-<8 hex>`; a name is any text up to
40 characters without control characters or path separators, unique among names and ids. With
Milvus a named base's collections are `<RAG_MILVUS_COLLECTION>_<id>_*` (`-` read as `_`), and an
empty RAG_MILVUS_URI means the milvus-lite file in its own folder, as for the default.

    >>> root = Settings.from_env(index_dir=Path("index"))          # doctest: +SKIP
    >>> create(root, "财政").id                                      # doctest: +SKIP
    'kb-3f2a9c1e'
    >>> settings_for(root, "财政").index_dir                        # doctest: +SKIP
    PosixPath('index/bases/kb-3f2a9c1e')

Changes hold a lock file in `bases/` (one writer at a time); a base appears and disappears by one
rename, so a crash leaves it whole or absent.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rag.bases.fitted import read_fitted
from rag.config import Settings, with_values
from rag.errors import IndexNotFoundError, RagError
from rag.indexing.locks import index_lock
from rag.store.base import write_text_durably

DEFAULT_ID = "default"
DEFAULT_NAME = "默认知识库"
BASES_FOLDER = "bases"  # under the default index folder
KB_FILE = "kb.json"
MAX_NAME = 40
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class UnknownKnowledgeBase(RagError):
    """No knowledge base has this id or name (the message lists those that exist)."""

    def __init__(self, name: str, known: list[KnowledgeBaseInfo]) -> None:
        listed = ", ".join(f"{b.id} ({b.name})" for b in known)
        super().__init__(f"no knowledge base {name!r} (existing: {listed}); create one with: python -m rag kb create NAME")
        self.name = name


class KnowledgeBaseNameError(RagError):
    """A name a knowledge base cannot take; `problem` is one of PROBLEMS (the web says it in Chinese)."""

    PROBLEMS = {
        "empty": "the name is empty",
        "long": f"the name is longer than {MAX_NAME} characters",
        "chars": "the name holds a control character or a path separator (/ or \\)",
        "taken": "another knowledge base already has this name or id",
    }

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"cannot name a knowledge base {name!r}: {self.PROBLEMS[problem]}")
        self.name, self.problem = name, problem


class DefaultKnowledgeBaseError(RagError):
    """The default knowledge base (the index folder itself) cannot be removed or renamed."""


@dataclass(frozen=True)
class KnowledgeBaseInfo:
    id: str
    name: str  # the display name
    folder: Path  # its index folder
    created: str = ""  # ISO time; "" for the default
    documents: int | None = None  # None: not counted (Milvus, a damaged index, or not asked)

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT_ID


def bases_dir(root: Settings) -> Path:
    """Where the named knowledge bases are kept: `<default index folder>/bases`."""
    return root.index_dir / BASES_FOLDER


def is_named_base(folder: Path) -> bool:
    """Whether an index folder is a named knowledge base (it has a kb.json); the default is not."""
    return (Path(folder) / KB_FILE).is_file()


def collection_suffix(kb_id: str) -> str:
    """The id as a Milvus collection name allows it (letters, digits and `_`)."""
    return kb_id.replace("-", "_")


def _read_info(folder: Path) -> KnowledgeBaseInfo:
    """A named base from its kb.json; a damaged file shows the id as the name (nothing is lost)."""
    try:
        raw = json.loads((folder / KB_FILE).read_text(encoding="utf-8"))
        name, created = str(raw["name"]), str(raw.get("created", ""))
    except (OSError, ValueError, KeyError, TypeError):
        name, created = folder.name, ""
    return KnowledgeBaseInfo(folder.name, name, folder, created)


def _write_info(folder: Path, name: str, created: str) -> None:
    tmp = folder / f".{KB_FILE}.{os.getpid()}"
    try:
        write_text_durably(tmp, [json.dumps({"name": name, "created": created}, ensure_ascii=False, indent=2)])
        os.replace(tmp, folder / KB_FILE)
    finally:
        tmp.unlink(missing_ok=True)


def _count(settings: Settings) -> int | None:
    """Documents in the base's index when it is cheap to know (files store: its manifest)."""
    if settings.store != "files":
        return None
    from rag.store.files import read_manifest

    try:
        return len(read_manifest(settings.index_dir).documents)
    except IndexNotFoundError:
        return 0
    except (RagError, OSError):
        return None


def list_bases(root: Settings, count: bool = False) -> list[KnowledgeBaseInfo]:
    """The default knowledge base first, then the named ones by creation time; `count`: with their
    document counts (files store only)."""
    found = [KnowledgeBaseInfo(DEFAULT_ID, DEFAULT_NAME, root.index_dir)]
    folder = bases_dir(root)
    if folder.is_dir():
        named = [_read_info(p) for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir() and is_named_base(p)]
        found += sorted(named, key=lambda b: (b.created, b.id))
    return [counted(root, b) for b in found] if count else found


def counted(root: Settings, base: KnowledgeBaseInfo) -> KnowledgeBaseInfo:
    """`base` with its document count (files store; None with Milvus or a damaged index)."""
    return replace(base, documents=_count(_placed(root, base)))


def resolve(root: Settings, kb: str | None) -> KnowledgeBaseInfo:
    """The knowledge base `kb` names: its id or its display name (None or "": the default);
    UnknownKnowledgeBase listing the existing ones."""
    known = list_bases(root)
    wanted = (kb or DEFAULT_ID).strip()
    for match in (lambda b: b.id == wanted, lambda b: b.name == wanted, lambda b: b.name.casefold() == wanted.casefold() or b.id == wanted.lower()):
        for base in known:
            if match(base):
                return base
    raise UnknownKnowledgeBase(wanted, known)


def _placed(root: Settings, base: KnowledgeBaseInfo) -> Settings:
    """`root` moved to the base's folder (and, with Milvus, its own collections)."""
    if base.is_default:
        return root
    return replace(root, index_dir=base.folder, milvus_collection=f"{root.milvus_collection}_{collection_suffix(base.id)}")


def settings_for(root: Settings, kb: str | None, flags: dict[str, Any] | None = None) -> Settings:
    """The settings knowledge base `kb` answers with: `root` (the environment's, with the default
    index folder) placed in its folder, its settings.json values over those, and `flags` (dotted
    field names, None values ignored: the command line's) over everything."""
    settings = _placed(root, resolve(root, kb))
    settings = with_values(settings, read_fitted(settings.index_dir))
    return with_values(settings, {k: v for k, v in (flags or {}).items() if v is not None})


def _check_name(name: str, others: list[KnowledgeBaseInfo]) -> str:
    clean = (name or "").strip()
    if not clean:
        raise KnowledgeBaseNameError(name, "empty")
    if len(clean) > MAX_NAME:
        raise KnowledgeBaseNameError(name, "long")
    if any(unicodedata.category(ch)[0] == "C" or ch in "/\\" for ch in clean):
        raise KnowledgeBaseNameError(name, "chars")
    if any(clean.casefold() in (b.name.casefold(), b.id) for b in others):
        raise KnowledgeBaseNameError(name, "taken")
    return clean


def _new_id(name: str, folder: Path, known: list[KnowledgeBaseInfo]) -> str:
    """The name as an id when it spells a free one, else a fresh `kb-<8 hex>`. An id is taken by any
    folder in bases/ and by an id with the same Milvus collections (`a-b` and `a_b`)."""
    taken = {collection_suffix(b.id) for b in known} | {collection_suffix(b.name.casefold()) for b in known}
    if folder.is_dir():
        taken |= {collection_suffix(p.name) for p in folder.iterdir()}
    candidate = name.lower()
    while not _ID.fullmatch(candidate) or collection_suffix(candidate) in taken:
        candidate = f"kb-{secrets.token_hex(4)}"
    return candidate


def _sweep(folder: Path) -> None:
    """Remove what a crashed create or remove left (the caller holds the lock: none is live)."""
    for debris in (*folder.glob(".creating-*"), *folder.glob(".removing-*")):
        shutil.rmtree(debris, ignore_errors=True)


def create(root: Settings, name: str) -> KnowledgeBaseInfo:
    """A new, empty knowledge base named `name` (KnowledgeBaseNameError when it cannot take it)."""
    folder = bases_dir(root)
    with index_lock(folder):  # a lock file in bases/: one change of the registry at a time
        _sweep(folder)
        known = list_bases(root)
        clean = _check_name(name, known)
        kb_id = _new_id(clean, folder, known)
        created = datetime.now(timezone.utc).isoformat(timespec="microseconds")  # orders the list
        staging = folder / f".creating-{kb_id}-{os.getpid()}"
        staging.mkdir()
        try:
            _write_info(staging, clean, created)
            os.rename(staging, folder / kb_id)  # the base appears whole, kb.json and all
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return KnowledgeBaseInfo(kb_id, clean, folder / kb_id, created, 0)


def rename(root: Settings, kb: str, new_name: str) -> KnowledgeBaseInfo:
    """Give knowledge base `kb` the display name `new_name`; its id, folder and collections stay."""
    with index_lock(bases_dir(root)):
        base = resolve(root, kb)
        if base.is_default:
            raise DefaultKnowledgeBaseError(f"the default knowledge base ({DEFAULT_NAME}) cannot be renamed")
        clean = _check_name(new_name, [b for b in list_bases(root) if b.id != base.id])
        _write_info(base.folder, clean, base.created)
    return replace(base, name=clean)


def remove(root: Settings, kb: str) -> KnowledgeBaseInfo:
    """Delete knowledge base `kb`: its folder (documents, index, uploads, settings, log, FAQ) and,
    with Milvus, its collections. The caller has asked the user first; the default cannot go."""
    with index_lock(bases_dir(root)):
        base = resolve(root, kb)
        if base.is_default:
            raise DefaultKnowledgeBaseError(f"the default knowledge base ({DEFAULT_NAME}) cannot be removed")
        settings = _placed(root, base)
        if settings.store == "milvus":
            from rag.store.milvus.client import drop_collections

            drop_collections(settings.milvus_uri or str(settings.index_dir / "milvus.db"), settings.milvus_collection)
        _sweep(base.folder.parent)
        doomed = base.folder.parent / f".removing-{base.id}-{os.getpid()}"
        os.rename(base.folder, doomed)  # gone from the list at once; then the files
        shutil.rmtree(doomed, ignore_errors=True)
    return base
