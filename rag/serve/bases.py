"""The web chat's knowledge bases: the server's open ones (`Bases`) and the 知识库 tab's area that
creates, renames and removes them (`Management`).

Which knowledge base a request is about is never kept here: the page's selector (`#kb-select`,
its value the base's id) is an input of every event that needs it, so each browser session has
its own; the API endpoints take `kb`. `Bases` only caches what each base opened: one Assistant and
one uploads KnowledgeBase per base, at first use, all sharing the server's one Embedder. A base's
Assistant answers with the settings its `settings.json` held when it was opened; when that file
changes (`rag calibrate --from-log` wrote new values, or an operator edited it) the next question
opens the base's Assistant again with them: one stat of the file per question tells.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import gradio as gr

from rag.assistant import Assistant
from rag.bases import registry
from rag.bases.fitted import SETTINGS_FILE
from rag.bases.registry import DEFAULT_ID, DEFAULT_NAME, DefaultKnowledgeBaseError, KnowledgeBaseInfo, KnowledgeBaseNameError, UnknownKnowledgeBase
from rag.config import Settings
from rag.indexing.uploads import KnowledgeBase

log = logging.getLogger("rag.app")

GONE = "该知识库已不存在（可能已在另一个会话中删除），请在页面顶部重新选择知识库。"
EMPTY_BASE = "该知识库还没有文档：请先在“知识库”页上传文档。"
NAME_PROBLEMS = {
    "empty": "请填写知识库名称。",
    "long": f"名称不能超过 {registry.MAX_NAME} 个字符。",
    "chars": "名称不能包含控制字符或路径分隔符（/ 或 \\）。",
    "taken": "已有同名（或同编号）的知识库，请换一个名称。",
}
_HIDDEN: dict[str, Any] = gr.update(visible=False)
Stamp = tuple[int, int, int] | None


def settings_stamp(folder: Path) -> Stamp:
    """What tells that a base's settings.json changed: its inode, modification time and size (None
    when there is none). A rewrite (`write_fitted` replaces the file) gives a new inode."""
    try:
        st = (Path(folder) / SETTINGS_FILE).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class Bases:
    """The knowledge bases a server answers from, opened at first use and kept.

    `root` is the default knowledge base's settings (its folder holds the others in bases/); None
    serves one knowledge base only: the `assistant` and `uploads` given (tests, embedded use; their
    settings are never read again). `assistant` and `uploads`, when given, are the default base's,
    already open (with its settings.json as it is now).
    """

    def __init__(self, root: Settings | None, embedder: Any, assistant: Any = None, uploads: Any = None) -> None:
        self.root = root
        self.embedder = embedder
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], tuple[Any, Any]] = {}  # (id, created) -> [assistant, uploads]
        self._default = (assistant, uploads)
        # (id, created) -> the settings.json its Assistant was opened with (or last failed to reopen with)
        self._stamps: dict[tuple[str, str], Stamp] = {}
        if root is not None and assistant is not None:
            self._stamps[(DEFAULT_ID, "")] = settings_stamp(root.index_dir)

    def listing(self) -> list[KnowledgeBaseInfo]:
        if self.root is None:
            return [KnowledgeBaseInfo(DEFAULT_ID, DEFAULT_NAME, Path("."))]
        return registry.list_bases(self.root)

    def choices(self) -> list[tuple[str, str]]:
        """The selector's choices: (display name, id), the default first."""
        return [(b.name, b.id) for b in self.listing()]

    def resolve(self, kb: str | None) -> KnowledgeBaseInfo:
        """The base `kb` names (id or display name; None: the default); UnknownKnowledgeBase."""
        if self.root is None:
            known = self.listing()
            if kb in (None, "", DEFAULT_ID, DEFAULT_NAME):
                return known[0]
            raise UnknownKnowledgeBase(str(kb), known)
        return registry.resolve(self.root, kb)

    def settings(self, kb: str | None) -> Settings:
        """The settings base `kb` answers with (its folder, its settings.json)."""
        base = self.resolve(kb)
        if self.root is None or (base.is_default and self._default[0] is not None):
            return self._default[0].settings
        return registry.settings_for(self.root, base.id)

    def assistant(self, kb: str | None) -> Assistant:
        """The base's Assistant, opened at first use (IndexNotFoundError while it has no documents:
        nothing is kept, the next call tries again), and again when its settings.json changed."""
        base = self.resolve(kb)
        key = (base.id, base.created)
        if base.is_default and self._default[0] is not None:
            if self.root is None:
                return self._default[0]
            with self._lock:
                fresh = self._reopened(key, base, self._default[0])
                self._default = (fresh, self._default[1])
                return fresh
        with self._lock:
            held = self._open.get(key, (None, None))
            if held[0] is None:
                self._stamps[key] = settings_stamp(base.folder)
                held = (Assistant(self.settings(base.id), embedder=self.embedder), held[1])
            else:
                held = (self._reopened(key, base, held[0]), held[1])
            self._open[key] = held
            return held[0]

    def _reopened(self, key: tuple[str, str], base: KnowledgeBaseInfo, open_one: Assistant) -> Assistant:
        """`open_one`, or a new Assistant (the same Embedder) when the base's settings.json changed
        since it was opened. A file that cannot be read keeps the open one answering (logged once
        per change of the file). The caller holds the lock."""
        stamp = settings_stamp(base.folder)
        if stamp == self._stamps.get(key):
            return open_one
        self._stamps[key] = stamp
        assert self.root is not None
        try:
            fresh = Assistant(registry.settings_for(self.root, base.id), embedder=self.embedder)
        except Exception:
            log.exception("knowledge base %s: its changed %s could not be used; answering with the settings it had", base.id, SETTINGS_FILE)
            return open_one
        log.info("knowledge base %s: %s changed, opened again with its new settings", base.id, SETTINGS_FILE)
        return fresh

    def uploads(self, kb: str | None) -> KnowledgeBase:
        """The base's uploads and removals."""
        base = self.resolve(kb)
        if base.is_default and self._default[1] is not None:
            return self._default[1]
        key = (base.id, base.created)
        with self._lock:
            held = self._open.get(key, (None, None))
            if held[1] is None:
                held = (held[0], KnowledgeBase(self.settings(base.id), self.embedder))
                self._open[key] = held
            return held[1]

    def refresh(self, kb: str | None) -> None:
        """After a change of the base's documents: its Assistant (if open) reads the new index."""
        base = self.resolve(kb)
        held = self._default if base.is_default and self._default[0] is not None else self._open.get((base.id, base.created), (None, None))
        if held[0] is not None:
            held[0].refresh()

    def forget(self, kb_id: str) -> None:
        """Drop what a removed base had open."""
        with self._lock:
            for key in [k for k in self._open if k[0] == kb_id]:
                del self._open[key]
                self._stamps.pop(key, None)


def _selector(bases: Bases, value: str) -> dict[str, Any]:
    return gr.update(choices=bases.choices(), value=value)


class Management:
    """The 知识库 tab's area to create, rename and remove knowledge bases (removal asks first).
    Build it inside the tab (`Management(bases)`), then `wire(selector)` after the page's layout."""

    def __init__(self, bases: Bases) -> None:
        self.bases = bases
        with gr.Accordion("管理知识库（新建、重命名、删除）", open=False, elem_id="kb-manage"):
            with gr.Row():
                self.new_name = gr.Textbox(label="新知识库名称", placeholder="例如：财政政策", max_length=registry.MAX_NAME, elem_id="kb-new-name")
                self.create_button = gr.Button("新建知识库", elem_id="kb-create")
            with gr.Row():
                self.rename_to = gr.Textbox(label="当前知识库的新名称", max_length=registry.MAX_NAME, elem_id="kb-rename-name")
                self.rename_button = gr.Button("重命名", elem_id="kb-rename")
            self.remove_button = gr.Button("删除当前知识库", variant="stop", elem_id="kb-remove")
            self.pending = gr.State(None)  # the id the confirmation is about
            with gr.Row(visible=False, elem_id="kb-confirm-row") as self.confirm_row:
                self.confirm_text = gr.Markdown(elem_id="kb-confirm-text")
                self.confirm_button = gr.Button("确认删除知识库", variant="stop", elem_id="kb-confirm-remove")
                self.cancel_button = gr.Button("取消", elem_id="kb-cancel-remove")
            self.status = gr.Textbox(label="知识库管理", interactive=False, elem_id="kb-manage-status")

    def wire(self, selector: gr.Dropdown) -> None:
        private: Any = {"api_visibility": "private"}
        self.create_button.click(self.create, [self.new_name, selector], [self.status, selector, self.new_name], **private)
        self.rename_button.click(self.rename, [selector, self.rename_to], [self.status, selector, self.rename_to], **private)
        self.remove_button.click(self.ask_to_remove, [selector], [self.status, self.confirm_row, self.confirm_text, self.pending], **private)
        self.confirm_button.click(self.remove, [self.pending, selector], [self.status, selector, self.confirm_row, self.pending], **private)
        self.cancel_button.click(lambda: ("已取消删除知识库。", _HIDDEN, None), None, [self.status, self.confirm_row, self.pending], **private)

    def selector(self, current: str | None) -> dict[str, Any]:
        """The selector's choices read again (another session may have changed them), the current
        base kept when it still exists."""
        try:
            keep = self.bases.resolve(current).id
        except UnknownKnowledgeBase:
            keep = DEFAULT_ID
        return _selector(self.bases, keep)

    def _root(self) -> Settings:
        if self.bases.root is None:
            raise DefaultKnowledgeBaseError("this server serves one knowledge base")
        return self.bases.root

    def create(self, name: str, current: str | None) -> tuple[str, dict, str]:
        """A new base, selected at once (the page switches to it: an empty chat and document list)."""
        try:
            base = registry.create(self._root(), name)
        except KnowledgeBaseNameError as exc:
            return NAME_PROBLEMS[exc.problem], _selector(self.bases, current or DEFAULT_ID), name
        except Exception:
            log.exception("creating a knowledge base failed")
            return "新建知识库失败，未做任何改动。", _selector(self.bases, current or DEFAULT_ID), name
        return f"已新建知识库“{base.name}”，并已切换到它：请上传文档。", _selector(self.bases, base.id), ""

    def rename(self, current: str | None, new_name: str) -> tuple[str, dict, str]:
        try:
            base = registry.rename(self._root(), current or DEFAULT_ID, new_name)
        except KnowledgeBaseNameError as exc:
            return NAME_PROBLEMS[exc.problem], _selector(self.bases, current or DEFAULT_ID), new_name
        except DefaultKnowledgeBaseError:
            return f"{DEFAULT_NAME}不能重命名。", _selector(self.bases, current or DEFAULT_ID), new_name
        except UnknownKnowledgeBase:
            return GONE, _selector(self.bases, DEFAULT_ID), new_name
        except Exception:
            log.exception("renaming a knowledge base failed")
            return "重命名失败，未做任何改动。", _selector(self.bases, current or DEFAULT_ID), new_name
        return f"已重命名为“{base.name}”。", _selector(self.bases, base.id), ""

    def ask_to_remove(self, current: str | None) -> tuple[str, dict, str, str | None]:
        """First click: name the base and what goes with it, and wait for 确认删除知识库."""
        try:
            base = self.bases.resolve(current)
        except UnknownKnowledgeBase:
            return GONE, _HIDDEN, "", None
        if base.is_default or self.bases.root is None:
            return f"{DEFAULT_NAME}不能删除。", _HIDDEN, "", None
        base = registry.counted(self.bases.root, base)
        count = "" if base.documents is None else f"其中的 {base.documents} 份文档、"
        question = f"确定要删除知识库“{base.name}”吗？{count}索引、设置、问答记录和常见问题都会删除，无法恢复。"
        return "", gr.update(visible=True), question, base.id

    def remove(self, pending: str | None, current: str | None) -> tuple[str, dict, dict, None]:
        if not pending:
            return "请先点击“删除当前知识库”。", _selector(self.bases, current or DEFAULT_ID), _HIDDEN, None
        try:
            base = registry.remove(self._root(), pending)
        except UnknownKnowledgeBase:
            return "该知识库已不存在。", _selector(self.bases, DEFAULT_ID), _HIDDEN, None
        except DefaultKnowledgeBaseError:
            return f"{DEFAULT_NAME}不能删除。", _selector(self.bases, DEFAULT_ID), _HIDDEN, None
        except Exception:
            log.exception("removing a knowledge base failed")
            return "删除知识库失败。", _selector(self.bases, current or DEFAULT_ID), _HIDDEN, None
        self.bases.forget(base.id)
        keep = current if current and current != base.id else DEFAULT_ID
        return f"已删除知识库“{base.name}”。", _selector(self.bases, keep), _HIDDEN, None
