"""A knowledge base's FAQ entries: curated question–answer pairs kept in `<index_dir>/faq/entries.json`.

The file describes itself (`format`, `version`) and is checked on load; every change is one
read–modify–write under the folder's lock (`faq/.lock`, fcntl), written to a temporary file and
moved into place, so a reader sees the old list or the new one, never half of either, and two
processes (the web page and `rag faq import`) do not lose each other's changes.

An entry may hold several phrasings of its question (相似问题: `similar`); the matcher scores a
user's question against each of them. Two entries never hold the same phrasing: phrasings are
compared by `question_key` (script, width, case, spaces and punctuation folded), and adding a
question already there (as an entry's question or one of its 相似问题) updates or skips that entry,
as the caller asks. An import may also merge a row that repeats an entry's answer under another
question into that entry, as one more 相似问题.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from rag.errors import RagError
from rag.text.segment import normalise
from rag.types import Answer

FAQ_FOLDER = "faq"  # under the knowledge base's index folder
FAQ_KIND = "faq"  # Citation.kind of an answer from an FAQ entry
FORMAT, VERSION = "rag-faq", 2  # 2: entries hold `similar` (version 1, without it, is read too)
READABLE_VERSIONS = (1, 2)
MAX_QUESTION_CHARS, MAX_ANSWER_CHARS = 500, 20_000
MAX_SIMILAR = 50  # 相似问题 per entry
PHRASING_SEPARATORS = r"[\n；;|]+"  # between the 相似问题 of one cell or text box


def split_phrasings(text: str) -> tuple[str, ...]:
    """`怎么补办身份证；身份证丢了怎么办|身份证掉了` → the three phrasings (newlines, ；, ; or | separate)."""
    return tuple(p.strip() for p in re.split(PHRASING_SEPARATORS, text or "") if p.strip())


class FaqError(RagError):
    """An FAQ entry or file that cannot be used; the message says why (Chinese / English)."""


def question_key(question: str) -> str:
    """What makes two questions the same question: `免申即享包括哪些政策？` and `免申即享 包括哪些政策?`
    (and the traditional `免申即享包括哪些政策`) are one key."""
    return re.sub(r"[\W_]+", "", normalise(question))


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


@dataclass(frozen=True)
class FaqEntry:
    id: int  # stable: never reused after a removal
    question: str
    answer: str  # the operator's curated text, shown as it is
    source: str = ""  # 来源: the document or office the answer rests on
    doc_number: str = ""  # 文号 of that document
    origin: str = ""  # "import 文件名.xlsx", "page", "feedback" or "command line"
    created: str = ""
    updated: str = ""
    similar: tuple[str, ...] = ()  # 相似问题: other phrasings of the question, matched like it

    @property
    def label(self) -> str:
        return f"FAQ #{self.id}"

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question, then its 相似问题."""
        return (self.question, *self.similar)


@dataclass
class ImportReport:
    """What adding many entries did, for one line to the operator."""

    added: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)  # an existing question got the new answer
    unchanged: list[int] = field(default_factory=list)  # an existing question with the same answer
    skipped_duplicates: list[int] = field(default_factory=list)  # an existing question, kept as it was (on_duplicate="skip")
    incomplete_rows: list[int] = field(default_factory=list)  # rows (1-based in the file) without a question or an answer
    merged: list[int] = field(default_factory=list)  # per row whose answer an entry already had: that entry (its question became a 相似问题)
    similar_taken: list[str] = field(default_factory=list)  # 相似问题 left out: another entry already holds them

    def summary(self) -> str:
        parts = [f"新增 {len(self.added)} 条", f"更新 {len(self.updated)} 条", f"未变 {len(self.unchanged)} 条"]
        if self.merged:
            shown = "、".join(f"#{i}" for i in list(dict.fromkeys(self.merged))[:10])
            parts.append(f"答案与已有条目相同的 {len(self.merged)} 行已并入该条目的相似问题（{shown}）")
        if self.similar_taken:
            shown = "、".join(f"“{q}”" for q in self.similar_taken[:5])
            parts.append(f"{len(self.similar_taken)} 个相似问题已属于其他条目，未加入（{shown}{'…' if len(self.similar_taken) > 5 else ''}）")
        if self.skipped_duplicates:
            shown = "、".join(f"#{i}" for i in self.skipped_duplicates[:10])
            parts.append(f"跳过与已有问题重复的 {len(self.skipped_duplicates)} 条（{shown}{'…' if len(self.skipped_duplicates) > 10 else ''}）")
        if self.incomplete_rows:
            shown = "、".join(str(r) for r in self.incomplete_rows[:10])
            parts.append(f"跳过缺少问题或答案的 {len(self.incomplete_rows)} 行（第 {shown}{'…' if len(self.incomplete_rows) > 10 else ''} 行）")
        return "；".join(parts) + "。"


@dataclass(frozen=True)
class Pair:
    """One question–answer pair to add (a row of an import file, a form, a 👍-ed answer)."""

    question: str
    answer: str
    source: str = ""
    doc_number: str = ""
    row: int = 0  # its row in the import file (1-based), 0 when it has none
    similar: tuple[str, ...] = ()  # 相似问题

    @property
    def phrasings(self) -> tuple[str, ...]:
        return (self.question, *self.similar)


def _clean(text: str) -> str:
    return (text or "").replace("\r\n", "\n").strip()


def _checked(pair: Pair) -> Pair:
    question, answer = re.sub(r"\s+", " ", _clean(pair.question)), _clean(pair.answer)
    if not question_key(question):
        raise FaqError("问题不能为空 / the question is empty")
    if not answer:
        raise FaqError("答案不能为空 / the answer is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise FaqError(f"问题超过 {MAX_QUESTION_CHARS} 个字符 / the question is longer than {MAX_QUESTION_CHARS} characters")
    if len(answer) > MAX_ANSWER_CHARS:
        raise FaqError(f"答案超过 {MAX_ANSWER_CHARS} 个字符 / the answer is longer than {MAX_ANSWER_CHARS} characters")
    similar = _similar(question, pair.similar)
    return replace(pair, question=question, answer=answer, source=_clean(pair.source), doc_number=_clean(pair.doc_number), similar=similar)


def _similar(question: str, phrasings: Iterable[str]) -> tuple[str, ...]:
    """The 相似问题 cleaned: spaces folded, empty ones and repeats (of the question too) dropped."""
    seen, out = {question_key(question)}, []
    for raw in phrasings:
        text = re.sub(r"\s+", " ", _clean(raw))
        key = question_key(text)
        if not key or key in seen:
            continue
        if len(text) > MAX_QUESTION_CHARS:
            raise FaqError(f"相似问题超过 {MAX_QUESTION_CHARS} 个字符 / a similar question is longer than {MAX_QUESTION_CHARS} characters")
        seen.add(key)
        out.append(text)
    if len(out) > MAX_SIMILAR:
        raise FaqError(f"相似问题超过 {MAX_SIMILAR} 个 / more than {MAX_SIMILAR} similar questions")
    return tuple(out)


def _answer_key(answer: str) -> str:
    """Two answers are the same answer when they differ only in spaces, punctuation, case or script."""
    return question_key(answer)


def _owners(entries: list[FaqEntry]) -> dict[str, int]:
    """Each phrasing's key → the position of the entry holding it."""
    return {question_key(q): i for i, e in enumerate(entries) for q in e.phrasings}


class FaqStore:
    """The FAQ entries of one knowledge base (`folder`: its `<index_dir>/faq`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / "entries.json"

    @classmethod
    def of(cls, settings) -> "FaqStore":
        """The FAQ of the knowledge base `settings` (a rag.config.Settings) describes."""
        return cls(Path(settings.index_dir) / FAQ_FOLDER)

    # reading

    def version(self) -> tuple[int, int] | None:
        """Changes whenever the entries change (None: there are none yet): what readers poll."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def entries(self) -> list[FaqEntry]:
        return list(self._read()[1])

    def get(self, entry_id: int) -> FaqEntry:
        for entry in self._read()[1]:
            if entry.id == entry_id:
                return entry
        raise FaqError(f"没有编号为 {entry_id} 的常见问题 / no FAQ entry #{entry_id}")

    def _read(self) -> tuple[int, list[FaqEntry]]:
        """(next id, entries); none yet: (1, [])."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return 1, []
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ValueError("not an FAQ file")
            if data.get("version") not in READABLE_VERSIONS:
                raise FaqError(
                    f"{self.path} 的格式版本为 {data.get('version')}，本程序读取版本 {VERSION} / FAQ file version {data.get('version')}, expected {VERSION}"
                )
            entries = [FaqEntry(**{**row, "similar": tuple(row.get("similar", ()))}) for row in data["entries"]]
            return int(data["next_id"]), entries
        except FaqError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise FaqError(f"常见问题文件已损坏：{self.path}（{exc}） / the FAQ file is damaged") from exc

    # writing

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _write(self, next_id: int, entries: list[FaqEntry]) -> None:
        data = {"format": FORMAT, "version": VERSION, "next_id": next_id, "entries": [asdict(e) for e in entries]}
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".entries.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def add_many(self, pairs: Iterable[Pair], origin: str, on_duplicate: str = "update", merge_same_answer: bool = False) -> ImportReport:
        """Add pairs in one write. A question already there (an entry's question or 相似问题, or
        earlier in `pairs`) is updated with the new answer, source and 文号 and gains the pair's
        相似问题 (`on_duplicate="update"`), or is left as it was ("skip"). With `merge_same_answer`,
        a pair whose answer an entry already has becomes one more 相似问题 of that entry. A 相似问题
        that another entry holds is left out (and named in the report). Pairs without a question
        or an answer are counted by row, not added."""
        if on_duplicate not in ("update", "skip"):
            raise ValueError(f"on_duplicate must be 'update' or 'skip', not {on_duplicate!r}")
        report = ImportReport()
        with self._locked():
            next_id, entries = self._read()
            owners = _owners(entries)
            by_answer = {_answer_key(e.answer): i for i, e in enumerate(entries)}
            now = _now()
            changed = False

            def claim(at: int, phrasings: Iterable[str]) -> tuple[str, ...]:
                """The phrasings no other entry holds, now held by entry `at`."""
                kept = []
                for q in phrasings:
                    owner = owners.setdefault(question_key(q), at)
                    if owner == at:
                        kept.append(q)
                    else:
                        report.similar_taken.append(q)
                return tuple(kept)

            for raw in pairs:
                try:
                    pair = _checked(raw)
                except FaqError:
                    if not raw.row:
                        raise
                    report.incomplete_rows.append(raw.row)
                    continue
                at = owners.get(question_key(pair.question))
                if at is None and merge_same_answer and _answer_key(pair.answer) in by_answer:
                    at = by_answer[_answer_key(pair.answer)]
                    old = entries[at]
                    similar = _similar(old.question, (*old.similar, *claim(at, pair.phrasings)))
                    if similar != old.similar:
                        entries[at] = replace(old, similar=similar, updated=now)
                        changed = True
                    report.merged.append(old.id)
                    continue
                if at is not None:
                    old = entries[at]
                    if on_duplicate == "skip" and (old.answer, old.source, old.doc_number) != (pair.answer, pair.source, pair.doc_number):
                        report.skipped_duplicates.append(old.id)
                        continue
                    similar = _similar(old.question, (*old.similar, *claim(at, pair.similar)))
                    new = replace(old, answer=pair.answer, source=pair.source, doc_number=pair.doc_number, similar=similar)
                    if new == old:
                        report.unchanged.append(old.id)
                    else:
                        entries[at] = replace(new, updated=now)
                        by_answer.setdefault(_answer_key(new.answer), at)
                        report.updated.append(old.id)
                        changed = True
                    continue
                at = len(entries)
                owners[question_key(pair.question)] = at
                entries.append(FaqEntry(next_id, pair.question, pair.answer, pair.source, pair.doc_number, origin, now, now, claim(at, pair.similar)))
                by_answer.setdefault(_answer_key(pair.answer), at)
                report.added.append(next_id)
                next_id += 1
                changed = True
            if changed:
                self._write(next_id, entries)
        return report

    def add(self, question: str, answer: str, source: str = "", doc_number: str = "", origin: str = "page", similar: Iterable[str] = ()) -> FaqEntry:
        """One new entry; a question (or 相似问题) that another entry holds is refused, naming that entry."""
        pair = _checked(Pair(question, answer, source, doc_number, similar=tuple(similar)))
        for phrasing in pair.phrasings:
            existing = self.find(phrasing)
            if existing is not None:
                raise FaqError(f"已有相同的问题：{existing.label}（{phrasing}） / the question is already {existing.label}")
        report = self.add_many([pair], origin, on_duplicate="skip")
        if not report.added or report.similar_taken:  # another writer added the same question meanwhile
            raise FaqError("已有相同的问题 / the question is already there")
        return self.get(report.added[0])

    def find(self, question: str) -> FaqEntry | None:
        """The entry holding this question (as its question or a 相似问题, as `question_key` compares them), if any."""
        key = question_key(question)
        return next((e for e in self._read()[1] if key in {question_key(q) for q in e.phrasings}), None)

    def edit(
        self,
        entry_id: int,
        question: str | None = None,
        answer: str | None = None,
        source: str | None = None,
        doc_number: str | None = None,
        similar: Iterable[str] | None = None,
    ) -> FaqEntry:
        """Change an entry's fields (None: keep; `similar` replaces its 相似问题); none of its
        phrasings may be another entry's."""
        with self._locked():
            next_id, entries = self._read()
            at = next((i for i, e in enumerate(entries) if e.id == entry_id), None)
            if at is None:
                raise FaqError(f"没有编号为 {entry_id} 的常见问题 / no FAQ entry #{entry_id}")
            old = entries[at]
            pair = _checked(
                Pair(
                    old.question if question is None else question,
                    old.answer if answer is None else answer,
                    old.source if source is None else source,
                    old.doc_number if doc_number is None else doc_number,
                    similar=old.similar if similar is None else tuple(similar),
                )
            )
            others = [e for e in entries if e.id != entry_id]
            owners = _owners(others)
            for phrasing in pair.phrasings:
                if question_key(phrasing) in owners:
                    clash = others[owners[question_key(phrasing)]]
                    raise FaqError(f"已有相同的问题：{clash.label}（{phrasing}） / the question is already {clash.label}")
            new = replace(old, question=pair.question, answer=pair.answer, source=pair.source, doc_number=pair.doc_number, similar=pair.similar, updated=_now())
            if new != replace(old, updated=new.updated):
                entries[at] = new
                self._write(next_id, entries)
                return new
            return old

    def remove(self, *entry_ids: int) -> list[FaqEntry]:
        """Remove entries by id; an id that is not there is refused and nothing is removed."""
        with self._locked():
            next_id, entries = self._read()
            present = {e.id for e in entries}
            missing = [i for i in entry_ids if i not in present]
            if missing:
                raise FaqError(f"没有编号为 {'、'.join(map(str, missing))} 的常见问题 / no FAQ entry {', '.join(f'#{i}' for i in missing)}")
            gone = [e for e in entries if e.id in entry_ids]
            self._write(next_id, [e for e in entries if e.id not in entry_ids])
            return gone

    def add_from_answer(self, question: str, answer: Answer, origin: str = "feedback") -> FaqEntry:
        """An extracted answer the operator approved (👍) as an FAQ entry: its quotes without the
        [n] marks, its source the cited documents' titles and 文号. An FAQ answer or a refusal is
        not turned into an entry."""
        if answer.refused or not answer.sentences:
            raise FaqError("这个回答没有从文档中找到答案，不能加入常见问题 / a refusal cannot become an FAQ entry")
        if any(c.kind == FAQ_KIND for c in answer.citations):
            raise FaqError("这个回答已经来自常见问题 / this answer already comes from the FAQ")
        text = ("" if len(answer.sentences) == 1 else "\n").join(s.text for s in answer.sentences)
        titles = list(dict.fromkeys(c.title for c in answer.citations if c.title))
        numbers = list(dict.fromkeys(v for c in answer.citations for k, v in c.metadata if k == "文号" and v))
        return self.add(question, text, "；".join(titles), "；".join(numbers), origin=origin)
