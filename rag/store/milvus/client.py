"""The Milvus client pool: one client per URI and process, and which knowledge bases it has loaded.

milvus-lite serves one process per data file, so clients are shared by every store object of the
process (and closed together by `release_clients`, which a test or a second process needs before
it opens the same file). A file another process holds is said plainly, before lite fails on it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import RagError
from rag.store.milvus.schema import KINDS

BATCH = 500  # rows per insert or per query by ids
_clients: dict[str, Any] = {}
_loaded: set[tuple[str, str]] = set()  # (uri, prefix) whose collections this process has loaded
_clients_lock = threading.Lock()

T = TypeVar("T")


def batches(items: Sequence[T], size: int = BATCH) -> Iterable[Sequence[T]]:
    """`items` in slices of `size` (Milvus bounds the rows of one request)."""
    for first in range(0, len(items), size):
        yield items[first : first + size]


def quoted(values: Iterable[str]) -> str:
    """A list of strings as a Milvus filter expression writes it (`key in [...]`)."""
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


class _QuietLite(logging.Filter):
    """milvus-lite has no MVCC timestamps to give query iterators (pymilvus warns at every scan),
    and a file another process holds is reported by our own message (its traceback says less)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "failed to get mvccTs" not in message and "Failed to start MilvusLite server" not in message


def _check_unlocked(path: Path) -> None:
    """A milvus-lite data folder another process has open: say so plainly (lite would fail with
    'Open local milvus failed')."""
    lock = path / "LOCK"
    if not lock.exists():
        return
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RagError(
                f"the milvus-lite data {path} is open in another process (a milvus-lite file serves one process at a time): "
                f"stop the other one (the web chat or the CLI), or serve it with `milvus-lite server --data-dir {path} --host 127.0.0.1` and set RAG_MILVUS_URI=http://127.0.0.1:19530"
            ) from None
        fcntl.flock(fh, fcntl.LOCK_UN)


def open_client(uri: str) -> Any:
    """One client per URI and process (milvus-lite serves one process per data file); pymilvus is
    imported only here, when a Milvus store is first used."""
    with _clients_lock:
        if uri not in _clients:
            from pymilvus import MilvusClient

            logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_QuietLite())
            logging.getLogger("milvus_lite.server_manager").addFilter(_QuietLite())
            if "://" not in uri:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
                _check_unlocked(Path(uri))
            try:
                _clients[uri] = MilvusClient(uri)
            except Exception as exc:  # pymilvus raises its own MilvusException and connection errors
                raise RagError(f"cannot open Milvus at {uri} ({type(exc).__name__}: {exc})") from exc
        return _clients[uri]


def loaded_client(uri: str, prefix: str, lock: threading.Lock) -> Any:
    """The client, with the collections `<prefix>_*` loaded once they all exist (a reopened
    collection is released: it must be loaded before any search or query). `lock` is the store's:
    it serialises the calls on the shared client."""
    found = open_client(uri)
    key = (uri, prefix)
    if key not in _loaded:
        with lock:
            if all(found.has_collection(f"{prefix}_{kind}") for kind in KINDS):
                for kind in KINDS:
                    found.load_collection(f"{prefix}_{kind}")
                _loaded.add(key)
    return found


def _release(uri: str) -> None:
    """Close the client of `uri` (the caller holds `_clients_lock`)."""
    held = _clients.pop(uri, None)
    if held is None:
        return
    held.close()
    if "://" not in uri:  # the embedded milvus-lite server outlives its clients: stop it, unlocking the file
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)
    _loaded.difference_update({key for key in _loaded if key[0] == uri})


def release_clients() -> None:
    """Close every client this process opened (a later call opens them again, as a new process would)."""
    with _clients_lock:
        for uri in list(_clients):
            _release(uri)
        _loaded.clear()


def drop_collections(uri: str, prefix: str) -> None:
    """Drop the knowledge base's collections `<prefix>_*` (a removed knowledge base); a milvus-lite
    file's client is then closed, its file about to be deleted with the base's folder."""
    if "://" not in uri and not Path(uri).exists():
        return  # never written to: nothing to drop
    client = open_client(uri)
    with _clients_lock:
        for kind in KINDS:
            if client.has_collection(f"{prefix}_{kind}"):
                client.drop_collection(f"{prefix}_{kind}")
        _loaded.discard((uri, prefix))
        if "://" not in uri:
            _release(uri)
