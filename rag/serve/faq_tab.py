"""The page's 常见问题 tab: import a .csv/.xlsx of 问题/答案 pairs, see the entries, edit and remove
them (removal asks for confirmation), and turn the chat's last extracted answer into an entry.

The entries belong to the knowledge base the page has selected: every handler takes the selector's
value (`kb`, the last input of each event) and asks `settings_of(kb)` for that knowledge base's
settings, whose index_dir holds its FAQ (rag/faq, docs/faq.md), and `assistant_of(kb)` for its
assistant (the 加入常见问题 button answers the chat's last question again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.faq import FaqError, FaqStore, import_file, split_phrasings
from rag.ingest.formats.sheets import SUFFIXES
from rag.serve.handlers import user_questions

log = logging.getLogger("rag.app")
HEADERS = ["编号", "问题", "相似问题", "答案", "来源", "文号", "来自", "更新时间"]
Update = dict[str, Any]
_HIDDEN: Update = gr.update(visible=False)


class FaqHandlers:
    def __init__(self, settings_of: Callable[[str | None], Any], assistant_of: Callable[[str | None], Any]) -> None:
        self.settings_of = settings_of  # a knowledge base's id (None: the default) → its Settings
        self.assistant_of = assistant_of  # … → its Assistant

    def store(self, kb: str | None) -> FaqStore:
        return FaqStore.of(self.settings_of(kb))

    def listing(self, kb: str | None = None) -> tuple[list[list], Update]:
        try:
            entries = self.store(kb).entries()
        except FaqError as exc:
            log.error("FAQ list: %s", exc)
            return [[0, str(exc), "", "", "", "", "", ""]], gr.update(choices=[], value=None)
        rows = [[e.id, e.question, "；".join(e.similar), e.answer, e.source, e.doc_number, e.origin, e.updated.replace("T", " ")] for e in entries]
        return rows, gr.update(choices=[(f"#{e.id} {e.question[:30]}", e.id) for e in entries], value=None)

    def _done(self, message: str, kb: str | None) -> tuple[str, list[list], Update]:
        return message, *self.listing(kb)

    def import_file(self, file, kb: str | None = None) -> tuple[str, list[list], Update]:
        if not file:
            return self._done("请先选择要导入的 .csv 或 .xlsx 文件。", kb)
        name = Path(getattr(file, "orig_name", None) or Path(file).name).name
        try:
            report = import_file(self.store(kb), Path(file), limits=self.settings_of(kb).limits, name=name)
        except RagError as exc:
            return self._done(f"导入失败，常见问题未改变：{str(exc).split(' / ')[0]}", kb)
        except Exception:
            log.exception("FAQ import failed")
            return self._done("导入失败，常见问题未改变。", kb)
        return self._done(f"已导入 {name}：{report.summary()}", kb)

    def pick(self, entry_id, kb: str | None = None) -> tuple[str, str, str, str, str]:
        if entry_id is None:
            return "", "", "", "", ""
        try:
            e = self.store(kb).get(int(entry_id))
        except FaqError:
            return "", "", "", "", ""
        return e.question, "\n".join(e.similar), e.answer, e.source, e.doc_number

    def save(self, entry_id, question: str, similar: str, answer: str, source: str, doc_number: str, kb: str | None = None) -> tuple[str, list[list], Update]:
        """With an entry chosen: save its changes; without: add a new entry (`similar`: its
        相似问题, one a line or separated by ；, ; or |)."""
        phrasings = split_phrasings(similar)
        try:
            if entry_id is None:
                entry = self.store(kb).add(question, answer, source, doc_number, origin="page", similar=phrasings)
                return self._done(f"已添加 {entry.label}。", kb)
            entry = self.store(kb).edit(int(entry_id), question, answer, source, doc_number, phrasings)
        except FaqError as exc:
            return self._done(f"未保存：{str(exc).split(' / ')[0]}", kb)
        return self._done(f"已保存 {entry.label}。", kb)

    def ask_to_remove(self, entry_id, kb: str | None = None) -> tuple[str, Update, str, int | None]:
        if entry_id is None:
            return "请先选择要删除的常见问题。", _HIDDEN, "", None
        try:
            entry = self.store(kb).get(int(entry_id))
        except FaqError as exc:
            return str(exc).split(" / ")[0], _HIDDEN, "", None
        return "", gr.update(visible=True), f"确定要删除 {entry.label}“{entry.question}”吗？", entry.id

    def remove(self, entry_id, kb: str | None = None) -> tuple[str, list[list], Update, Update, None]:
        if entry_id is None:
            return *self._done("请先选择要删除的常见问题。", kb), _HIDDEN, None
        try:
            gone = self.store(kb).remove(int(entry_id))
        except FaqError as exc:
            return *self._done(str(exc).split(" / ")[0], kb), _HIDDEN, None
        return *self._done(f"已删除 {gone[0].label}。", kb), _HIDDEN, None

    def cancel(self) -> tuple[str, Update, None]:
        return "已取消删除。", _HIDDEN, None

    def add_last_answer(self, history: list, kb: str | None = None) -> tuple[str, list[list], Update]:
        """The chat's last question, answered again in its conversation (the same answer the chat
        showed while the knowledge base is unchanged), as a new entry (`FaqStore.add_from_answer`)."""
        questions = user_questions(history)
        if not questions:
            return self._done("对话中还没有回答：请先在“问答”中提问。", kb)
        try:
            answer, _ = self.assistant_of(kb).ask_in_context(questions[-1], history=questions[:-1])
            entry = self.store(kb).add_from_answer(questions[-1], answer, origin="feedback")
        except RagError as exc:
            return self._done(f"未加入：{str(exc).split(' / ')[0]}", kb)
        return self._done(f"已加入 {entry.label}：{entry.question}（可在下方修改答案）", kb)


def build(
    settings_of: Callable[[str | None], Any], assistant_of: Callable[[str | None], Any], chatbot: gr.Chatbot, kb_select: gr.Dropdown | None = None
) -> gr.Tab:
    """The 常见问题 tab (call inside the page's gr.Tabs); `chatbot`: the chat whose last answer the
    加入常见问题 button takes; `kb_select`: the knowledge-base selector (None: the default base only)."""
    h = FaqHandlers(settings_of, assistant_of)
    with gr.Tab("常见问题") as tab:
        gr.Markdown(
            "与常见问题（或其相似问题）足够接近的提问直接得到这里的答案，并标注为“常见问题 FAQ #编号”；"
            "较接近的在回答下方列为“您是否想问”。导入文件需有“问题”“答案”两列（可选“来源”“文号”“相似问题”，"
            "答案相同的行并入同一条目）。"
        )
        # filled when the tab is shown (tab.select below), never while the page is built
        table = gr.Dataframe(headers=HEADERS, value=[], interactive=False, wrap=True, elem_id="faq-table")
        with gr.Row():
            file = gr.File(label="导入常见问题（.csv .xlsx .xls）", file_types=list(SUFFIXES), elem_id="faq-upload")
            with gr.Column():
                import_button = gr.Button("导入", variant="primary", elem_id="faq-import")
                from_chat = gr.Button("把对话中的最后一个回答加入常见问题", elem_id="faq-from-chat")
        status = gr.Textbox(label="状态", interactive=False, elem_id="faq-status")
        choice = gr.Dropdown(label="选择要修改或删除的条目（不选则新增）", choices=[], elem_id="faq-choice")
        question = gr.Textbox(label="问题", elem_id="faq-question")
        similar = gr.Textbox(label="相似问题（同一问题的其他问法，每行一个）", lines=2, elem_id="faq-similar")
        answer = gr.Textbox(label="答案", lines=4, elem_id="faq-answer")
        with gr.Row():
            source = gr.Textbox(label="来源", elem_id="faq-source")
            doc_number = gr.Textbox(label="文号", elem_id="faq-doc-number")
        with gr.Row():
            save = gr.Button("保存", variant="primary", elem_id="faq-save")
            remove = gr.Button("删除", variant="stop", elem_id="faq-remove")
        pending = gr.State(None)
        with gr.Row(visible=False, elem_id="faq-confirm-row") as confirm_row:
            confirm_text = gr.Markdown(elem_id="faq-confirm-text")
            confirm = gr.Button("确认删除", variant="stop", elem_id="faq-confirm-remove")
            cancel = gr.Button("取消", elem_id="faq-cancel-remove")

    kb = [kb_select] if kb_select is not None else []  # the last input of every event
    listed = [status, table, choice]
    import_button.click(h.import_file, [file, *kb], listed, api_visibility="private")
    from_chat.click(h.add_last_answer, [chatbot, *kb], listed, api_visibility="private")
    choice.change(h.pick, [choice, *kb], [question, similar, answer, source, doc_number], api_visibility="private")
    save.click(h.save, [choice, question, similar, answer, source, doc_number, *kb], listed, api_visibility="private")
    remove.click(h.ask_to_remove, [choice, *kb], [status, confirm_row, confirm_text, pending], api_visibility="private")
    confirm.click(h.remove, [pending, *kb], [*listed, confirm_row, pending], api_visibility="private")
    cancel.click(h.cancel, None, [status, confirm_row, pending], api_visibility="private")
    tab.select(h.listing, kb, [table, choice], api_visibility="private")
    if kb_select is not None:
        kb_select.change(h.listing, kb, [table, choice], api_visibility="private")
    return tab
