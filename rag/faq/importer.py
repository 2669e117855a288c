"""FAQ pairs out of a spreadsheet: `.csv` (any common Chinese encoding), `.xlsx`, `.xls` / `.et`.

The spreadsheet reading is the document reader's (rag/ingest/formats/sheets.py: merged cells
filled, numbers and dates as shown, the ZIP and cell bounds); here only the header is found and
the columns picked. The header is the first row, within the first MAX_HEADER_SEARCH non-empty rows
of a sheet (a title line may stand above it), that names a question column and an answer column:

    问 / 问题 / 常见问题 / 提问 / 咨询问题 / 标准问题 / question / q
    答 / 答案 / 回答 / 答复 / 解答 / 回复 / 答复内容 / 标准答案 / answer / a
    来源 / 出处 / 依据 / 政策依据 / 来源文件 / 文件名称 / source            (optional)
    文号 / 发文字号 / 文件编号 / 文件号 / doc number                       (optional)
    相似问题 / 相似问法 / 其他问法 / 扩展问题 / 同义问题 / similar questions (optional: phrasings
        separated by newlines, ；, ; or |)

in either script and with any spacing or brackets (`問題`, `答 案`, `问题（必填）`). Every sheet with
such a header is read; a file with none is refused naming the headers it does have.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.config import Limits
from rag.errors import DocumentError
from rag.faq.store import FaqError, FaqStore, ImportReport, Pair, split_phrasings
from rag.ingest.encoding import decode_bytes
from rag.ingest.formats.sheets import SUFFIXES, workbook_sheets
from rag.text.segment import normalise

MAX_HEADER_SEARCH = 5
MAX_FILE_BYTES = 50 * 1024 * 1024
COLUMNS: dict[str, tuple[str, ...]] = {
    "question": ("问", "问题", "常见问题", "提问", "咨询问题", "标准问题", "问题描述", "问句", "question", "questions", "q", "faq"),
    "answer": ("答", "答案", "回答", "答复", "解答", "回复", "答复内容", "回复内容", "标准答案", "答复口径", "问题解答", "answer", "answers", "a"),
    "source": ("来源", "出处", "依据", "政策依据", "来源文件", "参考文件", "文件名称", "政策来源", "source", "reference"),
    "doc_number": ("文号", "发文字号", "文件编号", "文件号", "docnumber", "documentnumber"),
    "similar": ("相似问题", "相似问法", "相似问", "其他问法", "扩展问题", "扩展问法", "同义问题", "similarquestions", "similar", "aliases"),
}
_NAME_OF = {name: column for column, names in COLUMNS.items() for name in names}


def _header_name(cell: str) -> str:
    """`问题（必填）` → `问题`, `答 案` → `答案`, `Question:` → `question`, `問題` → `问题`."""
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", normalise(cell))
    return re.sub(r"[\W_]+", "", text)


def _columns(row: list[str]) -> dict[str, int]:
    """Which column holds what, for a header row (the first column of each kind wins)."""
    found: dict[str, int] = {}
    for i, cell in enumerate(row):
        column = _NAME_OF.get(_header_name(cell))
        if column and column not in found:
            found[column] = i
    return found


def read_pairs(data: bytes, name: str, limits: Limits = Limits()) -> list[Pair]:
    """The question–answer pairs of a spreadsheet file's bytes (`name` gives its type). Rows
    without a question or an answer come back too (the store counts and skips them)."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise FaqError(f"不支持的文件类型“{suffix or name}”：请用 {' '.join(SUFFIXES)} / unsupported FAQ file type")
    if len(data) > MAX_FILE_BYTES:
        raise FaqError(f"文件过大（超过 {MAX_FILE_BYTES // (1024 * 1024)} MB） / the file is too large")
    try:
        sheets = workbook_sheets(data, suffix, decode_bytes, limits)
    except DocumentError as exc:
        raise FaqError(f"无法读取 {name}：{exc}") from exc
    pairs: list[Pair] = []
    headers_seen: list[str] = []  # each headerless sheet's first row, for the message
    found = False
    for _, rows, _ in sheets:
        filled = [(i, row) for i, row in enumerate(rows) if any(cell.strip() for cell in row)]
        header = next(((i, cols) for i, row in filled[:MAX_HEADER_SEARCH] if {"question", "answer"} <= set(cols := _columns(row))), None)
        if header is None:
            if filled:
                headers_seen.extend(cell for cell in filled[0][1] if cell.strip())
            continue
        found = True
        header_row, columns = header

        def cell(row: list[str], column: str, columns: dict[str, int] = columns) -> str:
            i = columns.get(column)
            return row[i] if i is not None and i < len(row) else ""

        for i, row in filled:
            if i > header_row:
                pairs.append(
                    Pair(
                        cell(row, "question"),
                        cell(row, "answer"),
                        cell(row, "source"),
                        cell(row, "doc_number"),
                        row=i + 1,
                        similar=split_phrasings(cell(row, "similar")),
                    )
                )
    if not found:
        seen = "、".join(f"“{h}”" for h in dict.fromkeys(headers_seen)) or "（无）"
        raise FaqError(f"{name} 中找不到“问题”和“答案”两列，表头是：{seen}。请把问题列命名为“问题”，答案列命名为“答案” / no question and answer columns")
    return pairs


def import_file(
    store: FaqStore, path: Path, on_duplicate: str = "update", limits: Limits = Limits(), name: str | None = None, merge_same_answer: bool = True
) -> ImportReport:
    """Add a spreadsheet's pairs to the store in one write (`name`: the file's name as the operator
    knows it, e.g. an upload's; default the path's). A row repeating an entry's answer under another
    question becomes that entry's 相似问题 unless `merge_same_answer` is False (FaqStore.add_many)."""
    name = name or Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise FaqError(f"无法读取文件 {name}：{exc.strerror or exc} / cannot read the file") from exc
    return store.add_many(read_pairs(data, name, limits), origin=f"import {name}", on_duplicate=on_duplicate, merge_same_answer=merge_same_answer)
