"""Spreadsheets (.xlsx, .xls and WPS .et, .csv): each row a record under its sheet's name.

A sheet becomes a Markdown heading (`# 存贷款`, so every chunk of it carries the sheet's name); the
lines above its table (a title merged across the columns, `单位：亿元`, `填表日期：…`) stay lines of
text, and each later row becomes one line of `列名：值` pairs (`base.table_rows_as_text`). Merged
cells are filled with their value, so a header merged over two rows, or a row label merged down over
three rows, names every cell it covers; a header of several rows (`存款` over `余额` and `增速`)
joins its parts: `存款/余额：6779.07`. Numbers are written as the sheet shows them near enough:
whole numbers without `.0`, others to four decimals, percentages as percentages, dates as dates.

openpyxl reads .xlsx (read-only, streaming; the merged ranges are read from the sheet's XML with
lxml), xlrd reads .xls; python-calamine, which reads both faster (docs/benchmarks.md), builds each sheet as a dense
grid, so a two-cell sheet spanning A1:XFD1048576 would take all memory. Bounds: the ZIP limits of
.docx for .xlsx, at most MAX_CELLS non-empty cells per workbook, and a sheet's reading stops after
MAX_EMPTY_ROWS empty rows in a row (formatting carried down to row 1,048,576).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats.archive import check_archive, damaged, parse_xml
from rag.ingest.formats.base import Decode, Extracted, table_rows_as_text, within_limit

SUFFIXES = (".xlsx", ".xls", ".et", ".csv")  # .et: WPS 表格, an .xls workbook inside (BIFF8)
MAX_CELLS = 2_000_000
MAX_EMPTY_ROWS = 10_000
MAX_HEADER_ROWS = 4

Merge = tuple[int, int, int, int]  # first row, last row, first column, last column (0-based, inclusive)


def _cell_text(value: object, number_format: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, int | float):
        if "%" in number_format:
            return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"
        if float(value).is_integer():
            return str(int(value))
        return f"{value:.4f}".rstrip("0").rstrip(".")
    # alignment spaces between Chinese characters (`项    目`) are not words' spaces
    return re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", str(value)).strip()


def _fill_merges(rows: list[list[str]], merges: list[Merge]) -> set[int]:
    """Every cell of a merged range gets the range's value. Returns the rows whose header goes on
    in the next row: a range runs down from them, or spans columns over sub-headers (`存款` over
    `余额` and `增速`)."""
    goes_on: set[int] = set()
    for top, bottom, left, right in merges:
        if top >= len(rows):
            continue
        value = rows[top][left] if left < len(rows[top]) else ""
        for r in range(top, min(bottom, len(rows) - 1) + 1):
            row = rows[r]
            row.extend([""] * (right + 1 - len(row)))
            for c in range(left, right + 1):
                row[c] = value
        goes_on.update(range(top, bottom))
        if right > left and bottom == top:
            goes_on.add(top)
    return goes_on


def sheet_lines(name: str, rows: list[list[str]], merges: list[Merge]) -> list[str]:
    """A sheet as lines: its name as a heading, the lines above its table, one line per record."""
    goes_on = _fill_merges(rows, merges)
    numbered = [(i, row) for i, row in enumerate(rows) if any(cell for cell in row)]
    lines = [f"# {name}"] if name else []
    start = 0
    while start < len(numbered) and len({c for c in numbered[start][1] if c}) <= 1:  # title, unit, date lines
        lines.append(next(c for c in numbered[start][1] if c))
        start += 1
    if start >= len(numbered):
        return lines
    end = start + 1  # the header goes on while a merged cell runs down from it or spans sub-headers
    while end < len(numbered) and end - start < MAX_HEADER_ROWS and numbered[end - 1][0] in goes_on:
        end += 1
    width = max(len(row) for _, row in numbered)
    header = []
    for c in range(width):
        parts: list[str] = []
        for _, row in numbered[start:end]:
            cell = row[c] if c < len(row) else ""
            if cell and cell not in parts:
                parts.append(cell)
        header.append("/".join(parts))
    lines.extend(table_rows_as_text([header] + [row for _, row in numbered[end:]]))
    return lines


class _Budget:
    def __init__(self) -> None:
        self.cells = 0

    def rows(self, rows: Iterable[list[str]]) -> Iterator[list[str]]:
        """Rows up to the last one with text, refusing past MAX_CELLS and stopping after MAX_EMPTY_ROWS."""
        empty = 0
        for row in rows:
            filled = sum(1 for cell in row if cell)
            self.cells += filled
            if self.cells > MAX_CELLS:
                raise DocumentError(f"表格过大：超过 {MAX_CELLS:,} 个非空单元格 / the workbook has more than {MAX_CELLS:,} cells")
            empty = 0 if filled else empty + 1
            if empty > MAX_EMPTY_ROWS:
                return
            yield row


def _xlsx_merges(archive, limits: Limits) -> dict[str, list[Merge]]:
    """Merged ranges of each sheet (by name), read from the sheets' XML (openpyxl's read-only
    mode does not give them)."""
    from openpyxl.utils.cell import range_boundaries

    def rel_target(base: str, target: str) -> str:
        return target.lstrip("/") if target.startswith("/") else f"{base.rsplit('/', 1)[0]}/{target}"

    workbook = parse_xml(archive.read("xl/workbook.xml"))
    rels = parse_xml(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): rel_target("xl/workbook.xml", r.get("Target", "")) for r in rels}
    out: dict[str, list[Merge]] = {}
    for sheet in workbook.iter("{*}sheet"):
        rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
        path = targets.get(rid)
        if not path or path not in archive.namelist():
            continue
        merges = []
        for cell in parse_xml(archive.read(path)).iter("{*}mergeCell"):
            left, top, right, bottom = range_boundaries(cell.get("ref", ""))
            merges.append((top - 1, bottom - 1, left - 1, right - 1))
        out[sheet.get("name", "")] = merges
    return out


Sheet = tuple[str, list[list[str]], list[Merge]]  # a sheet's name, its rows of cell texts, its merged ranges


def xlsx_sheets(data: bytes, limits: Limits) -> list[Sheet]:
    """An .xlsx workbook's sheets as rows of cell texts (`read` writes them out as
    records; the FAQ importer reads its question and answer columns from them)."""
    import openpyxl

    archive = check_archive(data, limits, ".xlsx")
    try:
        merges = _xlsx_merges(archive, limits)
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except DocumentError:
        raise
    except Exception as exc:  # openpyxl and lxml raise many types on damaged files
        raise damaged(".xlsx", exc) from exc
    budget, sheets = _Budget(), []
    try:
        for sheet in book.worksheets:
            cells = ([_cell_text(c.value, getattr(c, "number_format", "") or "") for c in row] for row in sheet.iter_rows())
            sheets.append((sheet.title, list(budget.rows(cells)), merges.get(sheet.title, [])))
    except DocumentError:
        raise
    except Exception as exc:
        raise damaged(".xlsx", exc) from exc
    finally:
        book.close()
    return sheets


def xls_sheets(data: bytes) -> list[Sheet]:
    """An .xls (or WPS .et) workbook's sheets as rows of cell texts."""
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError, struct.error, … on damaged files
        raise damaged(".xls", exc) from exc
    budget, sheets = _Budget(), []
    try:
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)

            def cells(sheet=sheet) -> Iterator[list[str]]:
                for r in range(sheet.nrows):
                    row = []
                    for c, cell in enumerate(sheet.row(r)):
                        if cell.ctype == xlrd.XL_CELL_DATE:
                            row.append(_cell_text(xlrd.xldate_as_datetime(cell.value, book.datemode)))
                        else:
                            fmt = book.format_map.get(book.xf_list[sheet.cell_xf_index(r, c)].format_key)
                            row.append(_cell_text(cell.value if cell.ctype != xlrd.XL_CELL_EMPTY else None, fmt.format_str if fmt else ""))
                    yield row

            merges = [(top, bottom - 1, left, right - 1) for top, bottom, left, right in sheet.merged_cells]
            sheets.append((sheet.name, list(budget.rows(cells())), merges))
            book.unload_sheet(index)
    except DocumentError:
        raise
    except Exception as exc:
        raise damaged(".xls", exc) from exc
    return sheets


def csv_rows(text: str) -> list[list[str]]:
    """A CSV text's rows of cell texts, its dialect sniffed (comma, tab, semicolon, bar, full-width comma)."""
    sample = text[:20_000]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|，")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    return list(_Budget().rows([_cell_text(c) for c in row] for row in rows))


def workbook_sheets(data: bytes, suffix: str, decode: Decode, limits: Limits) -> list[Sheet]:
    """A spreadsheet file's sheets as rows of cell texts, whichever of SUFFIXES it is (a .csv is
    one sheet without a name); a file that is not what its suffix says is refused."""
    if suffix == ".csv":
        return [("", csv_rows(decode(data)), [])]
    if suffix == ".xlsx":
        if not data.startswith(b"PK"):
            raise DocumentError("不是 .xlsx 文件（不是 ZIP 压缩包） / not an .xlsx file (not a ZIP archive)")
        return xlsx_sheets(data, limits)
    if not data.startswith(b"\xd0\xcf\x11\xe0"):
        raise DocumentError(f"不是 {suffix} 文件（不是 OLE2 复合文档） / not an {suffix} file (no OLE2 header)")
    return xls_sheets(data)


def read(data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted:
    """A workbook's sheets as Markdown (a heading per sheet, a line per record)."""
    lines = [line for name, rows, merges in workbook_sheets(data, suffix, decode, limits) for line in sheet_lines(name, rows, merges)]
    text = "\n\n".join(line for line in lines if line.strip()) + "\n"
    return Extracted(within_limit(text, limits), is_markdown=True)
