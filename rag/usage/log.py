"""The question log of a knowledge base: `<index folder>/log/questions.jsonl`, JSON lines, append-only.

Every record is one complete line written by one `write()` on a file opened for appending, then
flushed, under a lock across threads and processes (`flock` on `log/.lock`): two writers never
interleave, and a crash mid-write can only leave an unfinished *last* line, which readers skip and
count (a line without its newline, or one that is not JSON); the next writer starts a new line
first, so no later record is glued to it. When the file would pass `RAG_LOG_MAX_MB` it is rotated
(`questions.jsonl` → `questions.1.jsonl` → … up to `KEEP` old files, the oldest dropped): the log
is bounded by (KEEP + 1) × the size. Readers read all of them, oldest first.

A log that cannot be written (a full disk, a read-only folder) never fails an answer: the error is
logged once as a warning and the answer goes on. `RAG_LOG=off` writes nothing; login names are
recorded only with `RAG_LOG_USERS=on`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.config import ENV_VARS, EnvVar
from rag.usage.records import Feedback, Judged, LoggedQuestion, Span, Verdict

log = logging.getLogger(__name__)
LOG_FOLDER = "log"
CURRENT = "questions.jsonl"
KEEP = 4  # rotated files kept beside the current one
DEFAULT_MAX_MB = 16.0


def _env(name: str) -> Any:
    """The value of one of the log's variables (ENV_VARS' row: its check and its default)."""
    var: EnvVar = next(v for v in ENV_VARS if v.name == name)
    raw = os.environ.get(name)
    return var.parse(raw if raw is not None else str(var.default))


@dataclass(frozen=True)
class LogReading:
    """Everything the log holds: its questions with their last judgment, and how many lines were
    skipped (torn by a crash, or not records of this format)."""

    entries: tuple[Judged, ...]
    skipped: int
    files: int

    @property
    def judged(self) -> list[Judged]:
        return [e for e in self.entries if e.feedback is not None]


class QuestionLog:
    """Append questions and judgments to a knowledge base's log; read them back joined."""

    def __init__(self, folder: Path, *, kb: str = "", max_bytes: int = int(DEFAULT_MAX_MB * 2**20), keep: int = KEEP, users: bool = False, fsync: bool = False):
        self.folder = Path(folder)
        self.kb = kb or self.folder.parent.name
        self.max_bytes = max_bytes
        self.keep = keep
        self.users = users
        self.fsync = fsync
        self._lock = threading.Lock()
        self._warned = False

    @classmethod
    def for_index(cls, index_dir: Path, kb: str = "") -> QuestionLog | None:
        """The log of the knowledge base in `index_dir` as the environment sets it; None with RAG_LOG=off."""
        if _env("RAG_LOG") == "off":
            return None
        index_dir = Path(index_dir)
        return cls(index_dir / LOG_FOLDER, kb=kb or index_dir.resolve().name, max_bytes=_env("RAG_LOG_MAX_MB"), users=_env("RAG_LOG_USERS") == "on")

    @property
    def path(self) -> Path:
        return self.folder / CURRENT

    def files(self) -> list[Path]:
        """The log's files, oldest first (the rotated ones, then the current one)."""
        rotated = [self.folder / f"questions.{n}.jsonl" for n in range(self.keep, 0, -1)]
        return [p for p in [*rotated, self.path] if p.exists()]

    # writing

    def new_id(self) -> str:
        return uuid.uuid4().hex[:16]

    def question(self, record: LoggedQuestion) -> bool:
        """Append one answered question (its user name dropped unless RAG_LOG_USERS=on). False when
        it could not be written (warned once)."""
        raw = record.json()
        if not self.users:
            raw.pop("user", None)
        return self._append(raw)

    def feedback(self, log_id: str, verdict: Verdict, passage: Span | None = None, *, no_answer: bool = False) -> bool:
        """Append a judgment of the logged question `log_id` (`no_answer`: after 👎, none of the
        passages offered answers, the documents do not answer it)."""
        return self._append(Feedback(log_id, verdict, passage, no_answer=no_answer).json())

    def _append(self, record: dict[str, Any]) -> bool:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            with self._lock, self._locked():
                self._rotate_if_full(len(line))
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)  # read: its last byte
                try:
                    if _ends_torn(fd):  # a crash cut the last line: start a new one
                        line = b"\n" + line
                    _write_all(fd, line)
                    if self.fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
            return True
        except OSError as exc:
            if not self._warned:
                log.warning("question log %s cannot be written (%s); answering goes on without it", self.folder, exc)
                self._warned = True
            return False

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _rotate_if_full(self, adding: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + adding <= self.max_bytes:
            return
        oldest = self.folder / f"questions.{self.keep}.jsonl"
        oldest.unlink(missing_ok=True)
        for n in range(self.keep - 1, 0, -1):
            older = self.folder / f"questions.{n}.jsonl"
            if older.exists():
                os.replace(older, self.folder / f"questions.{n + 1}.jsonl")
        if self.keep > 0:
            os.replace(self.path, self.folder / "questions.1.jsonl")
        else:
            self.path.unlink()

    # reading

    def read(self) -> LogReading:
        """All questions of all files with their last judgment; torn and foreign lines skipped and counted."""
        questions: dict[str, LoggedQuestion] = {}
        feedback: dict[str, Feedback] = {}
        skipped = 0
        files = self.files()
        for path in files:
            for record in _records(path):
                kind = record.get("type") if isinstance(record, dict) else None
                item = LoggedQuestion.of(record) if kind == "question" else Feedback.of(record) if kind == "feedback" else None
                if isinstance(item, LoggedQuestion):
                    questions[item.id] = item
                elif isinstance(item, Feedback):
                    feedback[item.id] = item
                else:
                    skipped += 1
            skipped += _torn_lines(path)
        entries = tuple(Judged(q, feedback.get(q.id)) for q in questions.values())
        return LogReading(entries, skipped, len(files))


def _records(path: Path) -> Iterator[Any]:
    """The JSON value of each complete line (a line without its newline is left to `_torn_lines`);
    a line that is not JSON gives None."""
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n") or not raw.strip():
                continue
            try:
                yield json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                yield None


def _torn_lines(path: Path) -> int:
    """1 when the file ends inside a line (a write cut short), else 0."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return 0
        fh.seek(-1, os.SEEK_END)
        return int(fh.read(1) != b"\n")


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _write_all(fd: int, data: bytes) -> None:
    """One write() of the whole line (a short write, which a regular file gives only when the disk
    fills, is finished by further writes and is then an OSError of its own if the disk is full)."""
    written = os.write(fd, data)
    while written < len(data):
        written += os.write(fd, data[written:])


_logs: dict[tuple, QuestionLog | None] = {}  # per folder and the log's variables
_logs_lock = threading.Lock()


def open_log(index_dir: Path, kb: str = "") -> QuestionLog | None:
    """The (shared, per process) log of the knowledge base in `index_dir`; None with RAG_LOG=off."""
    folder = Path(index_dir).resolve()
    key = (folder, *(os.environ.get(v) for v in ("RAG_LOG", "RAG_LOG_MAX_MB", "RAG_LOG_USERS")))
    with _logs_lock:
        if key not in _logs:
            _logs[key] = QuestionLog.for_index(folder, kb)
        return _logs[key]
