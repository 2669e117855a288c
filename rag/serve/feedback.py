"""👍 / 👎 on the chat's answers, recorded in the question log with the question they judge.

Each answer the chat shows remembers, in the session (`gr.State`), the log id of its question, the
log it went to (its knowledge base's folder: a chat that switches knowledge bases judges each
answer in its own log) and the passages shown with it. Gradio's thumbs on an assistant message
(`chatbot.like`) append a judgment to that log; after 👎 the shown passages and retrieval's next
ones are offered (`#feedback-passage`, rag.usage.asking.passages_to_pick), and picking one records
it as the passage that does answer. After 👎 on an answer the last choice is 以上段落都不能回答
(`NO_ANSWER`): recorded as `no_answer`, the documents do not answer the question (it should have been
refused); a 👎 with nothing chosen only says the answer was wrong. On a refusal, 👎 reads "the
documents do answer this", so that choice is not offered there (docs/question-log.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from rag.assistant import Assistant
from rag.types import Passage
from rag.usage.asking import OFFERED_PASSAGES, Asked, passages_to_pick
from rag.usage.log import open_log
from rag.usage.records import Span

log = logging.getLogger("rag.app")
Asked_ = dict[str, dict[str, Any]]  # chat message index → what that answer's judgment needs
NOTHING_LOGGED = "这个回答没有记录（问题日志已关闭或无法写入），评价未保存。"
THANKS_UP = "谢谢，已记录：回答有用。"
THANKS_DOWN = "谢谢，已记录：回答不对。如果下面列出的段落中有能回答这个问题的，请选出它；如果都不能回答，请选最后一项。"
THANKS_REFUSAL_DOWN = "谢谢，已记录：文档其实能回答这个问题。如果下面列出的段落中有答案，请选出它。"
THANKS_PICK = "谢谢，已记录正确的段落。"
THANKS_NO_ANSWER = "谢谢，已记录：文档中没有这个问题的答案。"
NO_ANSWER = "none"  # the value of the last choice after 👎 on an answer
NO_ANSWER_LABEL = "以上段落都不能回答：文档中没有这个问题的答案"


def remember(asked: Asked_ | None, message_index: int, result: Asked, index_dir: Path, kb: str | None = None) -> Asked_:
    """`asked` with the answer at `message_index` added (a new dict: Gradio states are replaced, not
    mutated). `kb`: the selector's value, to offer that base's passages after 👎."""
    out = dict(asked or {})
    if result.log_id is None:
        return out
    # passages of documents only: an FAQ answer shows its entry, which is no passage to pick
    shown = [_choice(p, result.documents) for p in result.answer.passages if p.chunk.doc_id in result.documents]
    out[str(message_index)] = {"id": result.log_id, "log": str(index_dir), "kb": kb, "question": result.answer.question, "refused": result.answer.refused}
    out[str(message_index)]["shown"] = shown
    return out


def _choice(p: Passage, documents: dict) -> dict[str, Any]:
    doc = documents.get(p.chunk.doc_id)
    title = doc.title if doc is not None else p.chunk.doc_id
    text = " ".join(p.chunk.text.split())[:48]
    return {"title": title, "label": f"{p.chunk.heading or '正文'}：{text}…", "doc": p.chunk.doc_id, "start": p.chunk.start, "end": p.chunk.end}


def _labels(offered: list[dict[str, Any]]) -> list[str]:
    """The radio's lines: numbered, the document's title only where it changes from the line above
    (twenty passages of one reply would otherwise repeat its long title twenty times)."""
    lines, previous = [], None
    for n, p in enumerate(offered, start=1):
        title = p.get("title")
        lines.append(f"({n}) " + (f"{title} · " if title and title != previous else "") + p["label"])
        previous = title
    return lines


def _log_of(entry: dict[str, Any]):
    return open_log(Path(entry["log"]))


class FeedbackHandlers:
    """What the thumbs and the passage choice do; `assistant_for(kb)` gives a base's Assistant (to
    offer its passages after 👎)."""

    def __init__(self, assistant_for: Callable[[str | None], Assistant]) -> None:
        self.assistant_for = assistant_for

    def offered(self, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """The passages offered after 👎: those shown, then retrieval's next ones (`passages_to_pick`)."""
        try:
            assistant = self.assistant_for(entry.get("kb"))
            shown = {(p["doc"], p["start"], p["end"]) for p in entry["shown"]}
            more = passages_to_pick(assistant, entry["question"], ())
            extra = [_choice(p, assistant.documents) for p in more if (p.chunk.doc_id, p.chunk.start, p.chunk.end) not in shown]
        except Exception:  # the base was removed meanwhile, or its index cannot be read: the shown ones
            log.exception("could not retrieve more passages to offer")
            extra = []
        return [*entry["shown"], *extra][:OFFERED_PASSAGES]

    def on_like(self, data: gr.LikeData, asked: Asked_ | None) -> tuple[str, dict, dict | None]:
        """A thumb on a message: the judgment appended to its log; after 👎 the passages offered."""
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        entry = (asked or {}).get(str(index))
        hidden = gr.update(visible=False, value=None, choices=[])
        if entry is None:
            return NOTHING_LOGGED, hidden, None
        qlog = _log_of(entry)
        up = data.liked is True or data.liked == "Like"
        if qlog is None or not qlog.feedback(entry["id"], "up" if up else "down"):
            return NOTHING_LOGGED, hidden, None
        if up:
            return THANKS_UP, hidden, None
        pending = entry | {"offered": self.offered(entry)}
        choices = [(line, str(n)) for n, line in enumerate(_labels(pending["offered"]))]
        if not entry["refused"]:  # on a refusal 👎 already says the documents do answer it
            choices.append((NO_ANSWER_LABEL, NO_ANSWER))
        offered = gr.update(visible=bool(choices), value=None, choices=choices)
        return (THANKS_REFUSAL_DOWN if entry["refused"] else THANKS_DOWN), offered, pending

    def on_pick(self, choice: str | None, pending: dict | None) -> tuple[str, dict]:
        """The passage picked after 👎: recorded as the one that answers; or 以上段落都不能回答:
        recorded as `no_answer` (either judgment replaces the 👎)."""
        offered = (pending or {}).get("offered") or []
        if pending and choice == NO_ANSWER and not pending.get("refused"):
            qlog = _log_of(pending)
            if qlog is None or not qlog.feedback(pending["id"], "down", no_answer=True):
                return NOTHING_LOGGED, gr.update(visible=False)
            return THANKS_NO_ANSWER, gr.update(visible=False)
        if not pending or choice is None or not str(choice).isdecimal() or int(choice) >= len(offered):
            return "", gr.update()
        p = offered[int(choice)]
        qlog = _log_of(pending)
        if qlog is None or not qlog.feedback(pending["id"], "down", Span(p["doc"], p["start"], p["end"])):
            return NOTHING_LOGGED, gr.update(visible=False)
        return THANKS_PICK, gr.update(visible=False)


def wire(chatbot: gr.Chatbot, asked: gr.State, assistant_for: Callable[[str | None], Assistant]) -> tuple[gr.Markdown, gr.Radio]:
    """The judgment line and the passage choice under the chat, and their events."""
    h = FeedbackHandlers(assistant_for)
    status = gr.Markdown("", elem_id="feedback-status")
    passage = gr.Radio(label="哪一段能回答这个问题？（可选；先列出回答引用的段落）", choices=[], visible=False, elem_id="feedback-passage")
    pending = gr.State(None)  # the answer the offered passages belong to
    chatbot.like(h.on_like, [asked], [status, passage, pending], api_visibility="private")
    passage.input(h.on_pick, [passage, pending], [status, passage], api_visibility="private")
    return status, passage
