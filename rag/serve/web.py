"""The web chat: `python app.py` or `python -m rag serve` [--host 127.0.0.1] [--port 7860] [--index DIR] [--share].

Wires the library into a Gradio page: a chat answering from the index with numbered citations, the
cited passages beside it (answer sentence highlighted), a source view that each citation's 查看原文
opens (rag/serve/source.py), and a knowledge-base tab to upload, list and remove documents; a
selector at the top picks the knowledge base (rag/serve/bases.py, which also creates, renames and
removes them). Builds the index from seeds/ on first start. The answer function is also an API
endpoint, `/ask`, for gradio_client, and so is the source view, `/source` (document, start, end →
JSON); both take an optional `kb` (the knowledge base's id or name). Environment: RAG_HOST,
RAG_PORT, RAG_INDEX_DIR, RAG_USERNAME + RAG_PASSWORD (enables login), and the library's RAG_*
settings.

This module holds the page layout and the start-up; what the buttons do is in `handlers`, the
flags and login checks both entry points share in `options`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import gradio as gr

from rag.assistant import Assistant
from rag.bases.registry import DEFAULT_ID, settings_for
from rag.config import Settings
from rag.errors import RagError
from rag.indexing.build import index_seeds_if_missing
from rag.indexing.uploads import KnowledgeBase
from rag.ingest.formats import SUPPORTED_SUFFIXES
from rag.serve import faq_tab, feedback, options, source
from rag.serve.bases import Bases, Management
from rag.serve.handlers import Handlers
from rag.serve.login import Login
from rag.serve.render import CSS, citations_html, documents_table
from rag.usage.log import open_log

EXAMPLES = ["免申即享包括哪些政策?", "实施方案叫什么?", "那数字化转型方面呢?", "全省成立了多少个中小企业公共服务机构?", "下一步如何加强企业权益保护?"]


def build_app(assistant: Assistant, kb: KnowledgeBase, bases: Bases | None = None) -> gr.Blocks:
    """The page: the knowledge-base selector, the chat tab, the knowledge-base tab, and the `/ask`
    API endpoint. `assistant` and `kb` are the default knowledge base's; `bases` the others (None:
    the default one only)."""
    h = Handlers(assistant, kb, bases)
    with gr.Blocks(title="政务文档问答助手") as demo:
        reader_line = (
            "答案由训练的阅读模型从原文中选出。"
            if assistant.reader.name == "model"
            else "答案由规则从原文中抽取" + ("（训练的阅读模型未能加载，见服务器日志）。" if assistant.reader_status else "。")
        )
        gr.Markdown("## 政务文档问答助手\n答案直接摘自文档原文，每句都标注出处 [n]。" + reader_line)
        # the selected knowledge base: this browser session's own (an input of the events that need it)
        kb_select = gr.Dropdown(label="知识库", choices=h.bases.choices(), value=DEFAULT_ID, interactive=True, elem_id="kb-select")
        with gr.Tabs():
            with gr.Tab("问答"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(label="对话", height=460, render_markdown=False, elem_id="chat")
                        question = gr.Textbox(label="问题", placeholder="输入问题，例如：免申即享包括哪些政策？", elem_id="question")
                        with gr.Row():
                            send = gr.Button("发送", variant="primary", elem_id="send")
                            clear = gr.Button("清空对话", elem_id="clear")
                        asked = gr.State({})  # the answers shown, for 👍/👎 (rag/serve/feedback.py)
                        feedback.wire(chatbot, asked, h.assistant_for)
                        gr.Examples(EXAMPLES, inputs=question, label="示例问题")
                    with gr.Column(scale=2):
                        gr.Markdown("### 引用来源")
                        panel = gr.HTML(citations_html(None, {}), elem_id="citations", js_on_load=source.OPEN_SCRIPT)
                        gr.Markdown("### 原文")
                        source_request = gr.Textbox(visible="hidden", elem_id="source-request")
                        source_open = gr.Button("原文", visible="hidden", elem_id="source-open")
                        source_view = gr.HTML(source.EMPTY, elem_id="source-view", js_on_load=source.OPEN_SCRIPT)  # its page links
                        source_download = gr.DownloadButton("下载原文件", visible=False, size="sm", elem_id="source-download")
            with gr.Tab("知识库") as kb_tab:
                table = gr.Dataframe(headers=["文档", "标题", "段落数"], value=documents_table(kb.documents()), interactive=False, elem_id="documents")
                refresh_button = gr.Button("刷新列表", size="sm", elem_id="refresh-button")
                files = gr.File(
                    label="上传文档（文本、网页、PDF 与扫描件、Word/WPS、OFD、表格、幻灯片、图片）",
                    file_count="multiple",
                    file_types=list(SUPPORTED_SUFFIXES),
                    elem_id="upload",
                )
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
                manager = Management(h.bases)
            faq_tab.build(h.settings_for, h.assistant_for, chatbot, kb_select)  # 常见问题 (rag/faq)

        send.click(h.respond, [question, chatbot, asked, kb_select], [question, chatbot, panel, asked], api_visibility="private")
        question.submit(h.respond, [question, chatbot, asked, kb_select], [question, chatbot, panel, asked], api_visibility="private")
        clear.click(
            lambda: ([], citations_html(None, {}), source.EMPTY, gr.update(value=None, visible=False)),
            None,
            [chatbot, panel, source_view, source_download],
            api_visibility="private",
        )
        source_open.click(h.show_source, [source_request, kb_select], [source_view], js=source.REQUEST_SCRIPT, api_visibility="private").then(
            None, None, None, js=source.SCROLL_SCRIPT
        )
        source_open.click(h.original_download, [source_request, kb_select], [source_download], js=source.REQUEST_SCRIPT, api_visibility="private")
        upload_button.click(h.upload, [files, kb_select], [status, table, choice], api_visibility="private")
        remove_button.click(h.ask_to_remove, [choice], [status, confirm_row, confirm_text, pending], api_visibility="private")
        confirm_button.click(h.remove, [pending, kb_select], [status, table, choice, confirm_row, pending], api_visibility="private")
        cancel_button.click(h.cancel_removal, None, [status, confirm_row, pending], api_visibility="private")
        # another knowledge base: a new conversation over its documents
        kb_select.change(
            h.switch_kb,
            [kb_select],
            [chatbot, panel, source_view, source_download, table, choice, confirm_row, pending, status, files, asked],
            api_visibility="private",
        )
        manager.wire(kb_select)
        # the lists are read again whenever they are shown: another session may have changed them
        for shown in (demo.load, kb_tab.select):
            shown(manager.selector, [kb_select], [kb_select], api_visibility="private")
        demo.load(h.doc_choices, [kb_select], [table, choice], api_visibility="private")
        kb_tab.select(h.doc_choices, [kb_select], [table, choice], api_visibility="private")
        refresh_button.click(h.doc_choices, [kb_select], [table, choice], api_visibility="private")
        gr.api(h.ask_api, api_name="ask")
        gr.api(h.source_api, api_name="source")
    return demo


def prepare_index(settings: Settings, embedder) -> None:
    """Build the index from seeds/ when there is none yet."""
    index_seeds_if_missing(settings, embedder, say=lambda line: print(line, flush=True))


def serve(args: argparse.Namespace, error: Callable[[str], NoReturn]) -> int:
    """Check the login settings, load the index (building it from seeds/ the first time) and serve
    the page until interrupted. `error` is the calling parser's usage error; 1 on a library error."""
    login = options.login_from_env(args, error)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from rag.embedding import Embedder
    from rag.store import index_backends

    try:
        settings = Settings.from_env(index_dir=Path(args.index) if args.index else None)
        open_log(settings.index_dir)  # RAG_LOG, RAG_LOG_MAX_MB, RAG_LOG_USERS: a bad value stops the start, not each answer
        if not settings.index_dir.is_absolute():
            settings = replace(settings, index_dir=(Path.cwd() / settings.index_dir))
        embedder = Embedder.from_settings(settings, index_backends(settings))
        prepare_index(settings, embedder)
        default = settings_for(settings, None)  # with its settings.json
        assistant = Assistant(default, embedder=embedder)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    kb = KnowledgeBase(default, embedder)
    demo = build_app(assistant, kb, Bases(settings, embedder, assistant=assistant, uploads=kb))
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        # async: the pause after a wrong password does not block the server (Gradio awaits it)
        auth=Login(*login).check if login else None,  # type: ignore[arg-type]
        show_error=False,
        max_file_size=settings.max_file_bytes,
        theme=gr.themes.Soft(),
        css=CSS + source.CSS,
        footer_links=["api"],
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python app.py`: the flags of `options.parser`, then `serve`."""
    parser = options.parser()
    return serve(parser.parse_args(argv), parser.error)
