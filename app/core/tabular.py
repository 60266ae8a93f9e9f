"""Reading uploaded spreadsheets (.xlsx via calamine, .csv in UTF-8 or GBK) into rows of text."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import PurePath

from python_calamine import CalamineWorkbook

from app.core.errors import ImportRejectedError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TableRow:
    """One data row; ``row`` is the spreadsheet's own row number (the header is row 1)."""

    row: int
    values: dict[str, str]


def _cell_text(value: object) -> str:
    # Spreadsheet programs turn employee numbers into floats; give them back as written.
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return "" if value is None else str(value)


def _normalise_header(header: str) -> str:
    return header.strip().replace("\ufeff", "").replace(" ", "").replace("　", "")


def _rows_from_matrix(matrix: list[list[object]]) -> list[TableRow]:
    if not matrix:
        return []
    headers = [_normalise_header(_cell_text(h)) for h in matrix[0]]
    rows = []
    for index, raw in enumerate(matrix[1:], start=2):
        cells = [_cell_text(c).strip() for c in raw]
        if not any(cells):
            continue
        values = {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(headers) if h}
        rows.append(TableRow(row=index, values=values))
    return rows


def _decode_csv(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRejectedError([{"row": 0, "field": "file", "message": "CSV 文件既不是 UTF-8 也不是 GBK 编码"}])


def read_table(filename: str, content: bytes) -> list[TableRow]:
    """Rows of an .xlsx (first sheet) or .csv upload, as header → text (blocking: run in a thread)."""
    suffix = PurePath(filename or "").suffix.lower()
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImportRejectedError([{"row": 0, "field": "file", "message": "文件超过 20 MB"}])
    if suffix in {".xlsx", ".xlsm", ".xls", ".ods"}:
        try:
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
            sheet = workbook.get_sheet_by_index(0)
            matrix: list[list[object]] = [list(row) for row in sheet.to_python(skip_empty_area=False)]
        except Exception as exc:  # calamine raises its own error types for every kind of bad file
            raise ImportRejectedError(
                [{"row": 0, "field": "file", "message": f"无法读取的表格文件：{exc}"}]
            ) from exc
        return _rows_from_matrix(matrix)
    if suffix == ".csv":
        text = _decode_csv(content)
        return _rows_from_matrix([list(r) for r in csv.reader(io.StringIO(text))])
    message = f"不支持的文件类型 {suffix or '（无扩展名）'}，请上传 .xlsx 或 .csv"
    raise ImportRejectedError([{"row": 0, "field": "file", "message": message}])
