"""The index folder's locks: writers serialise on `index_lock`; the stored upload copies have their
own (`uploads_lock`), always taken before `index_lock` (one order, no deadlock)."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

UPLOAD_FOLDER = "uploads"  # under the index folder: the stored copy of each upload


@contextmanager
def index_lock(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def uploads_lock(index_dir: Path, blocking: bool = True):
    """The lock of the stored upload copies: uploads and removals hold it from staging to the stored
    copy, a full build while it reads them. Always taken before `index_lock` (one order, no deadlock).
    Yields False when `blocking` is False and another process holds it."""
    folder = index_dir / UPLOAD_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
