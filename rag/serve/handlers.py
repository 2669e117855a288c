"""What the web chat's buttons and its `/ask` endpoint do, apart from the page that wires them.

Each handler returns the page's new values. Errors never reach the user as a stack trace: they are
logged (logger "rag.app", the name the server log has always used) and the user gets a short
Chinese message; a damaged index is said as such instead of showing an empty knowledge base.
"""

from __future__ import annotations

import logging
from html import unescape
from pathlib import Path
from typing import Any

import gradio as gr

from rag.assistant import Assistant
from rag.bases.registry import UnknownKnowledgeBase
from rag.config import Settings
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, RagError
from rag.indexing.uploads import KnowledgeBase, staged_name
from rag.serve import feedback
from rag.serve.bases import EMPTY_BASE, GONE, Bases
from rag.serve.render import answer_json, chat_text, citations_html, documents_table, error_json, escape_chat
from rag.serve.source import EMPTY, original_file, source_json, source_view_html
from rag.source_view import SourceLibrary
from rag.usage.asking import ask_logged

log = logging.getLogger("rag.app")
SORRY = "抱歉，处理这个问题时出错了，请换个问法再试。"
INDEX_UNREADABLE = "索引文件无法读取（已损坏或由其他模型建立），未做任何改动：请先重建索引（python -m rag index）。"


def _text_of(content) -> str:
    """Text of a chat message, whether Gradio hands it back as a string or as content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, (list, tuple)):
        return "".join(_text_of(part) for part in content)
    return ""


def user_questions(history: list) -> list[str]:
    """The user's earlier questions (stored escaped in the chat, unescaped here)."""
    return [unescape(_text_of(m.get("content"))) for m in history or [] if isinstance(m, dict) and m.get("role") == "user"]


Update = dict[str, Any]  # what gr.update(...) returns: new settings for one component
Table = list[list[str | int]]  # the knowledge-base table's rows
_HIDDEN: Update = gr.update(visible=False)


class Handlers:
    """What the page's buttons and the `/ask` endpoint do; each returns the page's new values.

    Several knowledge bases: a handler that acts on one takes `kb` as its last input, the value of
    the page's selector (`#kb-select`, the base's id; None or "": the default), and reaches the base
    through `assistant_for(kb)`, `settings_for(kb)` (its folder is `settings_for(kb).index_dir`) or
    `uploads_for(kb)`; each raises UnknownKnowledgeBase for a base removed meanwhile (say `GONE`).
    `assistant` and `kb` are the default base's; `bases` the server's others (None: only those).
    """

    def __init__(self, assistant: Assistant, kb: KnowledgeBase, bases: Bases | None = None) -> None:
        self.assistant = assistant
        self.kb = kb
        self.bases = bases or Bases(None, None, assistant=assistant, uploads=kb)

    def assistant_for(self, kb: str | None) -> Assistant:
        """The Assistant of knowledge base `kb` (IndexNotFoundError while it has no documents)."""
        return self.bases.assistant(kb)

    def settings_for(self, kb: str | None) -> Settings:
        """The settings knowledge base `kb` answers with; its folder is their `index_dir`."""
        return self.bases.settings(kb)

    def uploads_for(self, kb: str | None) -> KnowledgeBase:
        return self.bases.uploads(kb)

    def respond(
        self, message: str, history: list, asked: dict | None = None, kb: str | None = None, request: gr.Request | None = None
    ) -> tuple[str, list, str, dict]:
        """Answer in the chat, logged in the base's question log; `asked` (the session's answers,
        for 👍/👎: rag/serve/feedback.py) gains this one."""
        history, asked = list(history or []), dict(asked or {})
        try:
            assistant = self.assistant_for(kb)
            result = ask_logged(assistant, message, user_questions(history), user=getattr(request, "username", None) or "")
            reply, panel = chat_text(result.answer), citations_html(result.answer, result.documents)
            asked = feedback.remember(asked, len(history) + 1, result, Path(assistant.settings.index_dir), kb)
        except UnknownKnowledgeBase:
            reply, panel = GONE, citations_html(None, {})
        except IndexNotFoundError:
            reply, panel = EMPTY_BASE, citations_html(None, {})
        except Exception:  # never show a stack trace to users; keep it in the server log
            log.exception("answering failed")
            reply, panel = SORRY, citations_html(None, {})
        history += [{"role": "user", "content": escape_chat(message or "")}, {"role": "assistant", "content": reply}]
        return "", history, panel, asked

    def source_library(self, kb: str | None) -> SourceLibrary:
        """What the source view reads: the generation base `kb`'s Assistant answers from (refreshed
        here, so the newest published), kept in memory once per generation rather than read from the
        index again on every click."""
        assistant = self.assistant_for(kb)
        assistant.refresh()
        return SourceLibrary.borrowing(assistant.settings, assistant.store, assistant.data)

    def show_source(self, request: str, kb: str | None = None) -> str:
        """The source view for a citation's `doc id|start|end` (read from the published index)."""
        return source_view_html(lambda: self.source_library(kb), request)

    def original_download(self, request: str, kb: str | None = None) -> Update:
        """The source view's 下载原文件 button for a citation's `doc id|start|end`: the original's
        bytes (only through `SourceLibrary.original`: the index's own places, sha256 checked) under
        the document's own base name; hidden when there is no original to offer."""
        path = original_file(lambda: self.source_library(kb), request)
        if path is None:
            return gr.update(value=None, visible=False)
        return gr.update(value=str(path), visible=True, label=f"下载原文件（{path.name}）")

    def source_api(self, doc_id: str, start: int, end: int, kb: str | None = None) -> dict:
        """A citation's place in its document: title, metadata, page, heading path, the text around
        the quote with the quote's offsets, and for PDFs the highlighted page as base64 PNG. `kb`:
        the knowledge base (id or name; default: the default one)."""
        return source_json(lambda: self.source_library(kb), doc_id, start, end)

    def ask_api(self, question: str, history: list[str] | None = None, kb: str | None = None) -> dict:
        """Answer one question; `history` lists the earlier questions of the conversation; `kb`: the
        knowledge base to answer from (id or name; default: the default one)."""
        try:
            result = ask_logged(self.assistant_for(kb), question, list(history or []))
            return answer_json(result.answer, result.documents) | {"log_id": result.log_id}
        except UnknownKnowledgeBase as exc:
            return error_json(question, f"没有名为“{exc.name}”的知识库。", str(exc))
        except IndexNotFoundError:
            return error_json(question, EMPTY_BASE, "the knowledge base has no documents yet")
        except Exception:
            log.exception("answering failed")
            return error_json(question, SORRY, "服务器出错，已记录在日志中")

    def doc_choices(self, kb: str | None = None) -> tuple[Table, Update]:
        try:
            docs, problem = self.uploads_for(kb).listing()
        except UnknownKnowledgeBase:
            return [[GONE, "", ""]], gr.update(choices=[], value=None)
        if problem:  # a damaged index is said in the table, not shown as an empty knowledge base
            log.error("knowledge-base list: %s", problem)
            return [[INDEX_UNREADABLE, "", ""]], gr.update(choices=[], value=None)
        return documents_table(docs), gr.update(choices=[d.doc_id for d in docs], value=None)

    def upload(self, files: list | None, kb: str | None = None, progress: gr.Progress = gr.Progress()) -> tuple[str, Table, Update]:
        if not files:
            return "请先选择要上传的文件。", *self.doc_choices(kb)
        pairs = [(Path(f), Path(getattr(f, "orig_name", None) or Path(f).name).name) for f in files]
        try:
            progress(0, desc="正在索引…")
            result = self.uploads_for(kb).add(pairs, progress=lambda done, total: progress(done / max(total, 1), desc=f"正在嵌入段落 {done}/{total}"))
        except UnknownKnowledgeBase:
            return GONE, *self.doc_choices(kb)
        except (IndexCorruptError, IndexMismatchError):
            log.exception("upload refused: the index cannot be read")
            return INDEX_UNREADABLE, *self.doc_choices(kb)
        except Exception:
            log.exception("upload failed")
            return "上传失败，索引保持不变。", *self.doc_choices(kb)
        self.bases.refresh(kb)
        r = result.report
        lines = [f"已索引：新增 {len(r.added)}，更新 {len(r.changed)}，未变 {len(r.unchanged)}；共 {r.documents} 份文档、{r.chunks} 个段落。"]
        lines += [f"未收录 {staged_name(p.path)}：{p.reason.split(' / ')[0]}" for p in r.problems]  # the Chinese half
        lines += [f"未收录 {line}" for line in result.refused]
        return "\n".join(lines), *self.doc_choices(kb)

    def ask_to_remove(self, doc_id: str | None) -> tuple[str, Update, str, str | None]:
        """First click: name the document and wait for 确认删除 (one click must not delete)."""
        if not doc_id:
            return "请先选择要删除的文档。", _HIDDEN, "", None
        question = f"确定要从知识库删除“{doc_id}”吗？删除后无法恢复（上传的文件副本也会删除）。"
        return "", gr.update(visible=True), question, doc_id

    def remove(self, doc_id: str | None, kb: str | None = None) -> tuple[str, Table, Update, Update, None]:
        if not doc_id:
            return "请先选择要删除的文档。", *self.doc_choices(kb), _HIDDEN, None
        try:
            self.uploads_for(kb).remove(doc_id)
        except UnknownKnowledgeBase:
            return GONE, *self.doc_choices(kb), _HIDDEN, None
        except (IndexCorruptError, IndexMismatchError):
            log.exception("removal refused: the index cannot be read")
            return INDEX_UNREADABLE, *self.doc_choices(kb), _HIDDEN, None
        except RagError:
            return "该文档已不在知识库中。", *self.doc_choices(kb), _HIDDEN, None
        except Exception:
            log.exception("remove failed")
            return "删除失败，索引保持不变。", *self.doc_choices(kb), _HIDDEN, None
        self.bases.refresh(kb)
        return f"已删除：{doc_id}", *self.doc_choices(kb), _HIDDEN, None

    def switch_kb(self, kb: str | None) -> tuple[list, str, str, Update, Table, Update, Update, None, str, None, dict]:
        """The selector changed: an empty chat (and no answers kept for 👍/👎), no citations or
        source view, the base's documents; no document removal pending, no status line and no files
        chosen for the previous base."""
        return [], citations_html(None, {}), EMPTY, gr.update(value=None, visible=False), *self.doc_choices(kb), _HIDDEN, None, "", None, {}

    def cancel_removal(self) -> tuple[str, Update, None]:
        return "已取消删除。", _HIDDEN, None
