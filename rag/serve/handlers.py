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
from rag.errors import IndexCorruptError, IndexMismatchError, RagError
from rag.indexing.uploads import KnowledgeBase, staged_name
from rag.serve.render import answer_json, chat_text, citations_html, documents_table, error_json, escape_chat
from rag.serve.source import original_file, source_json, source_view_html
from rag.source_view import SourceLibrary

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
    """What the page's buttons and the `/ask` endpoint do; each returns the page's new values."""

    def __init__(self, assistant: Assistant, kb: KnowledgeBase) -> None:
        self.assistant = assistant
        self.kb = kb

    def respond(self, message: str, history: list) -> tuple[str, list, str]:
        history = list(history or [])
        try:
            answer, documents = self.assistant.ask_in_context(message, history=user_questions(history))
            reply, panel = chat_text(answer), citations_html(answer, documents)
        except Exception:  # never show a stack trace to users; keep it in the server log
            log.exception("answering failed")
            reply, panel = SORRY, citations_html(None, {})
        history += [{"role": "user", "content": escape_chat(message or "")}, {"role": "assistant", "content": reply}]
        return "", history, panel

    def show_source(self, request: str) -> str:
        """The source view for a citation's `doc id|start|end` (read from the published index)."""
        return source_view_html(lambda: SourceLibrary.open(self.assistant.settings), request)

    def original_download(self, request: str) -> Update:
        """The source view's 下载原文件 button for a citation's `doc id|start|end`: the original's
        bytes (only through `SourceLibrary.original`: the index's own places, sha256 checked) under
        the document's own base name; hidden when there is no original to offer."""
        path = original_file(lambda: SourceLibrary.open(self.assistant.settings), request)
        if path is None:
            return gr.update(value=None, visible=False)
        return gr.update(value=str(path), visible=True, label=f"下载原文件（{path.name}）")

    def source_api(self, doc_id: str, start: int, end: int) -> dict:
        """A citation's place in its document: title, metadata, page, heading path, the text around
        the quote with the quote's offsets, and for PDFs the highlighted page as base64 PNG."""
        return source_json(lambda: SourceLibrary.open(self.assistant.settings), doc_id, start, end)

    def ask_api(self, question: str, history: list[str] | None = None) -> dict:
        """Answer one question; `history` lists the earlier questions of the conversation."""
        try:
            answer, documents = self.assistant.ask_in_context(question, history=list(history or []))
            return answer_json(answer, documents)
        except Exception:
            log.exception("answering failed")
            return error_json(question, SORRY, "服务器出错，已记录在日志中")

    def doc_choices(self) -> tuple[Table, Update]:
        docs, problem = self.kb.listing()
        if problem:  # a damaged index is said in the table, not shown as an empty knowledge base
            log.error("knowledge-base list: %s", problem)
            return [[INDEX_UNREADABLE, "", ""]], gr.update(choices=[], value=None)
        return documents_table(docs), gr.update(choices=[d.doc_id for d in docs], value=None)

    def upload(self, files: list | None, progress: gr.Progress = gr.Progress()) -> tuple[str, Table, Update]:
        if not files:
            return "请先选择要上传的文件。", *self.doc_choices()
        pairs = [(Path(f), Path(getattr(f, "orig_name", None) or Path(f).name).name) for f in files]
        try:
            progress(0, desc="正在索引…")
            result = self.kb.add(pairs, progress=lambda done, total: progress(done / max(total, 1), desc=f"正在嵌入段落 {done}/{total}"))
        except (IndexCorruptError, IndexMismatchError):
            log.exception("upload refused: the index cannot be read")
            return INDEX_UNREADABLE, *self.doc_choices()
        except Exception:
            log.exception("upload failed")
            return "上传失败，索引保持不变。", *self.doc_choices()
        self.assistant.refresh()
        r = result.report
        lines = [f"已索引：新增 {len(r.added)}，更新 {len(r.changed)}，未变 {len(r.unchanged)}；共 {r.documents} 份文档、{r.chunks} 个段落。"]
        lines += [f"未收录 {staged_name(p.path)}：{p.reason.split(' / ')[0]}" for p in r.problems]  # the Chinese half
        lines += [f"未收录 {line}" for line in result.refused]
        return "\n".join(lines), *self.doc_choices()

    def ask_to_remove(self, doc_id: str | None) -> tuple[str, Update, str, str | None]:
        """First click: name the document and wait for 确认删除 (one click must not delete)."""
        if not doc_id:
            return "请先选择要删除的文档。", _HIDDEN, "", None
        question = f"确定要从知识库删除“{doc_id}”吗？删除后无法恢复（上传的文件副本也会删除）。"
        return "", gr.update(visible=True), question, doc_id

    def remove(self, doc_id: str | None) -> tuple[str, Table, Update, Update, None]:
        if not doc_id:
            return "请先选择要删除的文档。", *self.doc_choices(), _HIDDEN, None
        try:
            self.kb.remove(doc_id)
        except (IndexCorruptError, IndexMismatchError):
            log.exception("removal refused: the index cannot be read")
            return INDEX_UNREADABLE, *self.doc_choices(), _HIDDEN, None
        except RagError:
            return "该文档已不在知识库中。", *self.doc_choices(), _HIDDEN, None
        except Exception:
            log.exception("remove failed")
            return "删除失败，索引保持不变。", *self.doc_choices(), _HIDDEN, None
        self.assistant.refresh()
        return f"已删除：{doc_id}", *self.doc_choices(), _HIDDEN, None

    def cancel_removal(self) -> tuple[str, Update, None]:
        return "已取消删除。", _HIDDEN, None
