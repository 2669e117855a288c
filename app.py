"""Web chat: `python app.py [--host 127.0.0.1] [--port 7860] [--index DIR] [--share]`.

Wires the library into a Gradio page: a chat answering from the index with numbered citations, the
cited passages beside it (answer sentence highlighted), and a knowledge-base tab to upload, list
and remove documents. Builds the index from seeds/ on first start. The answer function is also an
API endpoint, `/ask`, for gradio_client. Environment: RAG_HOST, RAG_PORT, RAG_INDEX_DIR,
RAG_USERNAME + RAG_PASSWORD (enables login), and the library's RAG_* settings.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from html import unescape
from pathlib import Path

import gradio as gr

from rag import Assistant, Settings
from rag.errors import IndexCorruptError, IndexMismatchError, RagError
from rag.indexing.build import index_seeds_if_missing
from rag.indexing.uploads import KnowledgeBase, staged_name
from rag.ingest.load import SUPPORTED_SUFFIXES
from rag.serve.login import Login
from rag.serve.render import CSS, answer_json, chat_text, citations_html, documents_table, error_json, escape_chat

log = logging.getLogger("rag.app")
EXAMPLES = ["免申即享包括哪些政策?", "实施方案叫什么?", "那数字化转型方面呢?", "全省成立了多少个中小企业公共服务机构?", "下一步如何加强企业权益保护?"]
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


_HIDDEN = gr.update(visible=False)


class Handlers:
    """What the page's buttons and the `/ask` endpoint do; each returns the page's new values."""

    def __init__(self, assistant: Assistant, kb: KnowledgeBase) -> None:
        self.assistant = assistant
        self.kb = kb

    def respond(self, message: str, history: list):
        history = list(history or [])
        try:
            answer, documents = self.assistant.ask_in_context(message, history=user_questions(history))
            reply, panel = chat_text(answer), citations_html(answer, documents)
        except Exception:  # never show a stack trace to users; keep it in the server log
            log.exception("answering failed")
            reply, panel = SORRY, citations_html(None, {})
        history += [{"role": "user", "content": escape_chat(message or "")}, {"role": "assistant", "content": reply}]
        return "", history, panel

    def ask_api(self, question: str, history: list[str] | None = None) -> dict:
        """Answer one question; `history` lists the earlier questions of the conversation."""
        try:
            answer, documents = self.assistant.ask_in_context(question, history=list(history or []))
            return answer_json(answer, documents)
        except Exception:
            log.exception("answering failed")
            return error_json(question, SORRY, "服务器出错，已记录在日志中")

    def doc_choices(self):
        docs, problem = self.kb.listing()
        if problem:  # a damaged index is said in the table, not shown as an empty knowledge base
            log.error("knowledge-base list: %s", problem)
            return [[INDEX_UNREADABLE, "", ""]], gr.update(choices=[], value=None)
        return documents_table(docs), gr.update(choices=[d.doc_id for d in docs], value=None)

    def upload(self, files, progress=gr.Progress()):
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

    def ask_to_remove(self, doc_id: str | None):
        """First click: name the document and wait for 确认删除 (one click must not delete)."""
        if not doc_id:
            return "请先选择要删除的文档。", _HIDDEN, "", None
        question = f"确定要从知识库删除“{doc_id}”吗？删除后无法恢复（上传的文件副本也会删除）。"
        return "", gr.update(visible=True), question, doc_id

    def remove(self, doc_id: str | None):
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

    def cancel_removal(self):
        return "已取消删除。", _HIDDEN, None


def build_app(assistant: Assistant, kb: KnowledgeBase) -> gr.Blocks:
    h = Handlers(assistant, kb)
    with gr.Blocks(title="政务文档问答助手") as demo:
        reader_line = (
            "答案由训练的阅读模型从原文中选出。"
            if assistant.reader.name == "model"
            else "答案由规则从原文中抽取" + ("（训练的阅读模型未能加载，见服务器日志）。" if assistant.reader_status else "。")
        )
        gr.Markdown("## 政务文档问答助手\n答案直接摘自文档原文，每句都标注出处 [n]。" + reader_line)
        with gr.Tabs():
            with gr.Tab("问答"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(label="对话", height=460, render_markdown=False, elem_id="chat")
                        question = gr.Textbox(label="问题", placeholder="输入问题，例如：免申即享包括哪些政策？", elem_id="question")
                        with gr.Row():
                            send = gr.Button("发送", variant="primary", elem_id="send")
                            clear = gr.Button("清空对话", elem_id="clear")
                        gr.Examples(EXAMPLES, inputs=question, label="示例问题")
                    with gr.Column(scale=2):
                        gr.Markdown("### 引用来源")
                        panel = gr.HTML(citations_html(None, {}), elem_id="citations")
            with gr.Tab("知识库") as kb_tab:
                table = gr.Dataframe(headers=["文档", "标题", "段落数"], value=documents_table(kb.documents()), interactive=False, elem_id="documents")
                refresh_button = gr.Button("刷新列表", size="sm", elem_id="refresh-button")
                files = gr.File(label="上传文档（.txt .md .html .pdf .docx）", file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), elem_id="upload")
                upload_button = gr.Button("上传并索引", variant="primary", elem_id="upload-button")
                status = gr.Textbox(label="状态", interactive=False, elem_id="kb-status")
                with gr.Row():
                    choice = gr.Dropdown(label="选择文档", choices=[d.doc_id for d in kb.documents()], elem_id="doc-choice")
                    remove_button = gr.Button("删除文档", variant="stop", elem_id="remove-button")
                pending = gr.State(None)  # the document the confirmation is about
                with gr.Row(visible=False, elem_id="confirm-row") as confirm_row:
                    confirm_text = gr.Markdown(elem_id="confirm-text")
                    confirm_button = gr.Button("确认删除", variant="stop", elem_id="confirm-remove")
                    cancel_button = gr.Button("取消", elem_id="cancel-remove")

        send.click(h.respond, [question, chatbot], [question, chatbot, panel], api_visibility="private")
        question.submit(h.respond, [question, chatbot], [question, chatbot, panel], api_visibility="private")
        clear.click(lambda: ([], citations_html(None, {})), None, [chatbot, panel], api_visibility="private")
        upload_button.click(h.upload, [files], [status, table, choice], api_visibility="private")
        remove_button.click(h.ask_to_remove, [choice], [status, confirm_row, confirm_text, pending], api_visibility="private")
        confirm_button.click(h.remove, [pending], [status, table, choice, confirm_row, pending], api_visibility="private")
        cancel_button.click(h.cancel_removal, None, [status, confirm_row, pending], api_visibility="private")
        # the list is read again whenever it is shown: another session may have changed it
        demo.load(h.doc_choices, None, [table, choice], api_visibility="private")
        kb_tab.select(h.doc_choices, None, [table, choice], api_visibility="private")
        refresh_button.click(h.doc_choices, None, [table, choice], api_visibility="private")
        gr.api(h.ask_api, api_name="ask")
    return demo


def prepare_index(settings: Settings, embedder) -> None:
    """Build the index from seeds/ when there is none yet."""
    index_seeds_if_missing(settings, embedder, say=lambda line: print(line, flush=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="政务文档问答助手 (web chat)")
    parser.add_argument("--host", default=os.environ.get("RAG_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("RAG_PORT", "7860")))
    parser.add_argument("--index", help="index folder (default: $RAG_INDEX_DIR or ./index)")
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    args = parser.parse_args(argv)
    user, password = os.environ.get("RAG_USERNAME"), os.environ.get("RAG_PASSWORD")
    if bool(user) != bool(password):
        parser.error("set both RAG_USERNAME and RAG_PASSWORD to enable the login (only one is set: refusing to start without a login)")
    if args.share and not (user and password):
        parser.error("--share publishes the app (uploads and deletions included): set RAG_USERNAME and RAG_PASSWORD first")
    if not user and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: listening on {args.host} without a login: anyone who can reach this port can ask, upload and delete documents; "
            "set RAG_USERNAME and RAG_PASSWORD",
            file=sys.stderr,
            flush=True,
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from rag.embedding import Embedder

    try:
        settings = Settings.from_env(index_dir=Path(args.index) if args.index else None)
        if not settings.index_dir.is_absolute():
            settings = replace(settings, index_dir=(Path.cwd() / settings.index_dir))
        embedder = Embedder.from_settings(settings)
        prepare_index(settings, embedder)
        assistant = Assistant(settings, embedder=embedder)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    kb = KnowledgeBase(settings, embedder)
    demo = build_app(assistant, kb)
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        # async: the pause after a wrong password does not block the server (Gradio awaits it)
        auth=Login(user, password).check if user and password else None,  # type: ignore[arg-type]
        show_error=False,
        max_file_size=settings.max_file_bytes,
        theme=gr.themes.Soft(),
        css=CSS,
        footer_links=["api"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
