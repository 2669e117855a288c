"""Knowledge-base management for the web chat: upload, list, remove documents.

Uploaded files are copied under `<index>/uploads/` with sanitised names (a name such as
`../../x.txt` becomes `x.txt` inside that folder) and the stored copy is what gets indexed, under
the doc id `uploads/<name>`. Updates go through `build_index`, which serialises writers; uploads
and removals also hold a lock of their own from staging to the stored copy, so that two uploads of
one name (each staged in a file of its own) leave the disk copy and the index in agreement. Staged
files a crash left behind are removed when the knowledge base opens.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings
from rag.errors import IndexNotFoundError, RagError
from rag.indexing.build import UPLOAD_PREFIX, IndexReport, build_index
from rag.indexing.locks import UPLOAD_FOLDER, uploads_lock
from rag.ingest.formats import SUPPORTED_SUFFIXES, unsupported_upload
from rag.store import manifest_of


@dataclass(frozen=True)
class UploadResult:
    report: IndexReport
    refused: tuple[str, ...]  # one line per file not accepted, with the reason (in Chinese)


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    title: str
    chunks: int


def staged_name(path: str) -> str:
    """The uploaded file's name from the path of its staging file (`.incoming-k3j_-通知.txt` → `通知.txt`)."""
    return re.sub(r"^\.incoming-[^-]*-", "", Path(path).name)


def sanitise_filename(name: str) -> str:
    """A safe file name: no folders, no control characters, no leading dots.

    >>> sanitise_filename("../../etc/passwd.txt")
    'passwd.txt'
    """
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = re.sub(r"[^\w\-.()（）〔〕【】《》 ]", "_", base).strip().lstrip(".")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem[:100] or "upload"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def _unused(name: str, taken: set[str]) -> str:
    """`name`, or `name(2)`, `name(3)`… when another file of the same upload already has it; the
    name is then taken. (A later upload under an existing name replaces that document: an update.)"""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}({n}){suffix}"
    taken.add(candidate.lower())
    return candidate


class KnowledgeBase:
    def __init__(self, settings: Settings, embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self.upload_dir = settings.index_dir / UPLOAD_FOLDER
        self._clean_staging()

    def _uploads_lock(self, blocking: bool = True):
        return uploads_lock(self.settings.index_dir, blocking)  # False: another process is uploading

    def _clean_staging(self) -> None:
        """Remove `.incoming-*` files left by a crashed upload (none is live without the lock)."""
        if not self.upload_dir.is_dir():
            return
        with self._uploads_lock(blocking=False) as free:
            if free:
                for stale in self.upload_dir.glob(".incoming-*"):
                    stale.unlink(missing_ok=True)

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents; none when there is no index or it cannot be read (see `listing`)."""
        return self.listing()[0]

    def listing(self) -> tuple[list[DocumentInfo], str]:
        """The indexed documents and "" — or none and why the index cannot be read (no index yet is
        not an error: an empty list and "")."""
        try:
            manifest = manifest_of(self.settings)
        except IndexNotFoundError:
            return [], ""
        except RagError as exc:
            return [], str(exc)
        return [DocumentInfo(d, info["title"], info["chunks"]) for d, info in sorted(manifest.documents.items())], ""

    def add(self, uploads: list[tuple[Path, str]], progress: Callable[[int, int], None] | None = None) -> UploadResult:
        """Store and index uploaded files, given as (temporary path, original name)."""
        with self._uploads_lock():
            return self._add(uploads, progress)

    def _add(self, uploads: list[tuple[Path, str]], progress: Callable[[int, int], None] | None) -> UploadResult:
        files, refused = [], []
        taken: set[str] = set()
        for temp, original in uploads:
            name = _unused(sanitise_filename(original), taken)  # `政策?.txt` and `政策*.txt` in one upload stay two files
            if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                refused.append(unsupported_upload(original))
                continue
            if temp.stat().st_size > self.settings.max_file_bytes:
                refused.append(f"{original}: 文件过大（上限 {self.settings.max_file_bytes // 1024 // 1024} MB）")
                continue
            dest = (self.upload_dir / name).resolve()
            if dest.parent != self.upload_dir.resolve():
                refused.append(f"{original}: 文件名无效")
                continue
            # staged in a file of its own; it becomes the stored copy only if it indexes
            fd, staged = tempfile.mkstemp(prefix=".incoming-", suffix=f"-{dest.name}", dir=self.upload_dir)
            os.close(fd)
            incoming = Path(staged)
            shutil.copyfile(temp, incoming)
            files.append((incoming, dest, UPLOAD_PREFIX + name))
        try:
            report = build_index([], self.settings, self.embedder, progress=progress, keep_missing=True, files=[(i, d) for i, _, d in files])
        except BaseException:  # nothing was indexed: no staged copy may stay behind
            for incoming, _, _ in files:
                incoming.unlink(missing_ok=True)
            raise
        failed = {p.path for p in report.problems}
        for incoming, dest, _ in files:
            if str(incoming) in failed:
                incoming.unlink(missing_ok=True)  # the previous stored copy (if any) stays as indexed
            else:
                os.replace(incoming, dest)
        return UploadResult(report, tuple(refused))

    def remove(self, *doc_ids: str) -> IndexReport:
        """Drop documents from the index, and the stored copies of uploaded ones (a full rebuild
        reads the stored copies again, so a removed upload must not keep one)."""
        with self._uploads_lock():
            return self._remove(doc_ids)

    def _remove(self, doc_ids: tuple[str, ...]) -> IndexReport:
        known = manifest_of(self.settings).documents  # a damaged index says so, not "not in the index"
        unknown = [d for d in doc_ids if d not in known]
        if unknown:
            raise RagError(f"not in the index: {', '.join(unknown)} (see: python -m rag docs)")
        report = build_index([], self.settings, self.embedder, keep_missing=True, remove=list(doc_ids))
        for doc_id in doc_ids:
            if doc_id.startswith(UPLOAD_PREFIX):
                stored = (self.upload_dir / doc_id[len(UPLOAD_PREFIX) :]).resolve()
                if stored.parent == self.upload_dir.resolve():
                    stored.unlink(missing_ok=True)
        return report
