"""Spreadsheets in and out: uploads read within a budget, every .xlsx/.csv export written by one writer.

Reading (.xlsx via calamine, .csv in UTF-8 or GBK): calamine turns a sheet into a dense rows × columns
array, so one cell at A1 and one at XFD1048576 would ask for 550 GB. Before calamine sees a workbook,
``check_xlsx_budget`` looks inside the package with the standard library: entry count and uncompressed
size from the zip directory, then each worksheet streamed (never more than the uncompressed budget) to
find its declared dimension and the farthest row and column any cell names. A file over the budget is
refused with 413 and a Chinese message; a file that is not a workbook with 422.

Writing: ``write_workbook`` and ``write_csv`` are the only writers of exported spreadsheets. Text that a
spreadsheet program would evaluate (``= + - @``, or a tab or carriage return first) is prefixed with
``'``, text is never stored as a formula or a link, and numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from python_calamine import CalamineWorkbook

from app.core.errors import ImportRejectedError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SheetBudget:
    """What one upload may hold; checked before the file is parsed."""

    max_rows: int = 100_000
    max_columns: int = 200
    max_cells: int = 2_000_000  # rows × columns of the sheet's extent: calamine allocates 32 bytes for each
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_zip_entries: int = 2_000


DEFAULT_BUDGET = SheetBudget()


class ImportTooLargeError(ImportRejectedError):
    """An upload over the size or cell budget: refused before it is read, nothing written."""

    status_code = 413


@dataclass(frozen=True, slots=True)
class TableRow:
    """One data row; ``row`` is the spreadsheet's own row number (the header is row 1)."""

    row: int
    values: dict[str, str]


def _file_problem(message: str) -> list[dict[str, Any]]:
    return [{"row": 0, "field": "file", "message": message}]


def _too_large(message: str) -> ImportTooLargeError:
    return ImportTooLargeError(_file_problem(message))


# ------------------------------------------------------------------------------------------ the budget

_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\bref\s*=\s*[\"']([^\"']*)[\"']")
# Row and cell start tags, in document order (their names may carry a namespace prefix).
_TAG = re.compile(rb"<(?:\w+:)?(row|c)(?=[\s/>])((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_REF = re.compile(rb"(?:^|\s)r\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_CELL_REF = re.compile(rb"\$?([A-Za-z]{0,3})\$?([0-9]{0,7})")
# The common case, matched in C: every row and cell tag names its place (Excel, WPS, LibreOffice do).
_ATTRIBUTES = rb"(?:[^>\"']|\"[^\"]*\"|'[^']*')*?"
_CELL_TAGS = re.compile(rb"<(?:\w+:)?c(?=[\s/>])")
_ROW_TAGS = re.compile(rb"<(?:\w+:)?row(?=[\s/>])")
_CELL_REFS = re.compile(rb"<(?:\w+:)?c(?=\s)" + _ATTRIBUTES + rb"\sr\s*=\s*[\"']\$?([A-Za-z]{1,3})\$?([0-9]{1,7})[\"']")
_ROW_REFS = re.compile(rb"<(?:\w+:)?row(?=\s)" + _ATTRIBUTES + rb"\sr\s*=\s*[\"']([0-9]{1,7})[\"']")
_CHUNK = 1 << 20
_MAX_TAG = 4 * _CHUNK  # a start tag cut by a chunk boundary is read again with the next chunk


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _cell_label(rows: int, columns: int) -> str:
    letters, number = "", columns
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters or 'A'}{rows}"


@dataclass(slots=True)
class _Extent:
    rows: int = 0
    columns: int = 0
    row: int = 0
    column: int = 0

    def see(self, kind: bytes, attributes: bytes) -> None:
        letters, digits = _reference(attributes)
        if kind == b"row":
            if letters:
                raise _malformed()
            self.row = int(digits) if digits else self.row + 1
            self.column = 0
            self.rows = max(self.rows, self.row)
            return
        if letters:
            self.column = _column_number(letters)
            if digits:
                self.row = int(digits)
        else:
            self.column += 1
        self.rows = max(self.rows, self.row, 1)
        self.columns = max(self.columns, self.column)


def _malformed() -> ImportRejectedError:
    return ImportRejectedError(_file_problem("不是有效的 .xlsx 文件（工作表中有无法识别的单元格位置）"))


def _reference(attributes: bytes) -> tuple[bytes, bytes]:
    """The letters and digits of a tag's ``r`` attribute (both empty when it has none)."""
    found = _REF.search(attributes)
    if found is None:
        return b"", b""
    value = found.group(1) if found.group(1) is not None else found.group(2)
    parsed = _CELL_REF.fullmatch(value.strip())
    if parsed is None:  # an entity, a range, anything a reader might interpret otherwise
        raise _malformed()
    return parsed.group(1), parsed.group(2)


def _check_extent(rows: int, columns: int, budget: SheetBudget, what: str) -> None:
    if rows > budget.max_rows:
        raise _too_large(f"{what}达到第 {rows} 行，超过上限 {budget.max_rows} 行，请拆分后分批导入")
    if columns > budget.max_columns:
        raise _too_large(f"{what}达到第 {columns} 列，超过上限 {budget.max_columns} 列")
    if rows * columns > budget.max_cells:
        raise _too_large(f"{what}的范围 A1:{_cell_label(rows, columns)} 共 {rows * columns} 个单元格，"
                         f"超过上限 {budget.max_cells} 个，请删除多余的行列后再导入")  # fmt: skip


def _parse_dimension(ref: bytes) -> tuple[int, int]:
    last = ref.split(b":")[-1].replace(b"$", b"")
    match = re.fullmatch(rb"([A-Za-z]{1,3})([0-9]{1,9})", last.strip())
    if match is None:
        return 0, 0
    return int(match.group(2)), _column_number(match.group(1))


def _see_referenced(extent: _Extent, text: bytes, end: int) -> bool:
    """Take in the chunk's farthest row and column when every tag in it names its place; else False."""
    cells = _CELL_REFS.findall(text, 0, end)
    rows = _ROW_REFS.findall(text, 0, end)
    if len(cells) != len(_CELL_TAGS.findall(text, 0, end)) or len(rows) != len(_ROW_TAGS.findall(text, 0, end)):
        return False
    if cells:
        width = max(len(letters) for letters, _ in cells)
        farthest = max(letters.upper() for letters, _ in cells if len(letters) == width)
        extent.columns = max(extent.columns, _column_number(farthest))
        extent.rows = max(extent.rows, max(int(digits) for _, digits in cells))
    if rows:
        extent.rows = max(extent.rows, max(int(digits) for digits in rows))
    return True


def _scan_worksheet(stream: Iterator[bytes], budget: SheetBudget) -> None:
    extent = _Extent()
    pending = b""
    dimension_seen = slow = False
    for chunk in stream:
        text = pending + chunk
        if not dimension_seen:
            match = _DIMENSION.search(text)
            if match is not None:
                dimension_seen = True
                rows, columns = _parse_dimension(match.group(1))
                _check_extent(rows, columns, budget, f"工作表声明的范围 {match.group(1).decode(errors='replace')} ")
        # Tags are read up to the last complete one; the rest waits for the next chunk.
        cut = text.rfind(b"<")
        if cut < 0 or text.find(b">", cut) >= 0:
            cut = len(text)
        if len(text) - cut > _MAX_TAG:
            raise _malformed()
        if not slow:
            slow = not _see_referenced(extent, text, cut)
            if slow:
                # Some tag has no place of its own: count tag by tag from here, starting (to err on the
                # large side) at the farthest row and column seen so far.
                extent.row, extent.column = extent.rows, extent.columns
        if slow:
            for match in _TAG.finditer(text, 0, cut):
                extent.see(match.group(1), match.group(2))
        _check_extent(extent.rows, extent.columns, budget, "工作表的单元格")
        pending = text[cut:]


def _entry_chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo, allowance: list[int]) -> Iterator[bytes]:
    with archive.open(info) as entry:
        while chunk := entry.read(_CHUNK):
            allowance[0] -= len(chunk)
            if allowance[0] < 0:
                raise _too_large("文件解压后过大（可能是压缩炸弹），已拒绝")
            yield chunk


def check_xlsx_budget(content: bytes, budget: SheetBudget = DEFAULT_BUDGET) -> None:
    """Refuse an .xlsx package over ``budget`` without parsing it (blocking: run in a thread)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ImportRejectedError(_file_problem("不是有效的 .xlsx 文件（无法按 Excel 工作簿打开）")) from exc
    with archive:
        entries = archive.infolist()
        if len(entries) > budget.max_zip_entries:
            raise _too_large(f"工作簿内含 {len(entries)} 个部件，超过上限 {budget.max_zip_entries} 个")
        declared = sum(info.file_size for info in entries)
        if declared > budget.max_uncompressed_bytes:
            raise _too_large(f"文件解压后约 {declared // 2**20} MB，超过上限 "
                             f"{budget.max_uncompressed_bytes // 2**20} MB（可能是压缩炸弹），已拒绝")  # fmt: skip
        allowance = [budget.max_uncompressed_bytes]
        try:
            # Every part is inflated once (the directory's sizes may lie); worksheets are scanned as they go.
            for info in entries:
                name = info.filename.lower()
                chunks = _entry_chunks(archive, info, allowance)
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    _scan_worksheet(chunks, budget)
                else:
                    for _chunk in chunks:
                        pass
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as exc:
            raise ImportRejectedError(_file_problem("不是有效的 .xlsx 文件（压缩包已损坏）")) from exc


# ------------------------------------------------------------------------------------------- reading


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


def _rows_from_matrix(matrix: Iterable[Sequence[object]]) -> list[TableRow]:
    rows: list[TableRow] = []
    headers: list[str] | None = None
    for index, raw in enumerate(matrix, start=1):
        if headers is None:
            headers = [_normalise_header(_cell_text(h)) for h in raw]
            continue
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
    raise ImportRejectedError(_file_problem("CSV 文件既不是 UTF-8 也不是 GBK 编码的文本"))


def _csv_records(text: str, budget: SheetBudget) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text))
    try:
        for number, record in enumerate(reader, start=1):
            _check_extent(number, len(record), budget, "CSV 文件")
            yield record
    except csv.Error as exc:
        raise ImportRejectedError(
            _file_problem(f"CSV 文件第 {reader.line_num} 行无法读取（格式错误，例如含有空字符或过长的单元格）")
        ) from exc


def _read_xlsx(content: bytes, budget: SheetBudget) -> list[TableRow]:
    check_xlsx_budget(content, budget)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        sheet = workbook.get_sheet_by_index(0)
        # The extent calamine found, checked again (it is the array it has already allocated).
        last_row, last_column = sheet.end or (0, 0)
        _check_extent(last_row + 1, last_column + 1, budget, "工作表")
        return _rows_from_matrix(sheet.to_python(skip_empty_area=False))
    except ImportRejectedError:
        raise
    except Exception as exc:  # calamine raises its own error types (in English) for every kind of bad file
        raise ImportRejectedError(_file_problem("无法读取该表格文件（文件已损坏，或不是 Excel 工作簿）")) from exc


def read_table(filename: str, content: bytes, budget: SheetBudget = DEFAULT_BUDGET) -> list[TableRow]:
    """Rows of an .xlsx (first sheet) or .csv upload, as header → text (blocking: run in a thread)."""
    suffix = PurePath(filename or "").suffix.lower()
    if len(content) > MAX_UPLOAD_BYTES:
        raise _too_large(f"文件大于 {MAX_UPLOAD_BYTES // 2**20} MB")
    if suffix in {".xlsx", ".xlsm"}:
        return _read_xlsx(content, budget)
    if suffix in {".xls", ".ods", ".et"}:
        raise ImportRejectedError(_file_problem(f"不支持 {suffix} 格式，请在表格软件中另存为 .xlsx 后再导入"))
    if suffix == ".csv":
        return _rows_from_matrix(_csv_records(_decode_csv(content), budget))
    raise ImportRejectedError(_file_problem(f"不支持的文件类型 {suffix or '（无扩展名）'}：请上传 .xlsx 或 .csv"))


async def read_upload(upload: Any, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """An uploaded file's bytes, reading at most one byte past ``limit`` (413 when it is over)."""
    content: bytes = await upload.read(limit + 1)
    if len(content) > limit:
        raise _too_large(f"文件大于 {limit // 2**20} MB")
    return content


# ------------------------------------------------------------------------------------------- writing

# Text a spreadsheet program would run as a formula (CSV injection): =, +, -, @, and a tab or CR first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | float | Decimal | bool | date | time | None
_WORKBOOK_OPTIONS = {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                     "strings_to_urls": False}  # fmt: skip


def neutralise(text: str) -> str:
    """Prefix ``'`` to text that a spreadsheet program would otherwise run as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unneutralise(text: str) -> str:
    """Undo ``neutralise``: drop a ``'`` that only guards a formula character."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def safe_cell(value: Cell) -> str | int | float | bool | None:
    """The value as written: text neutralised, dates as ISO text, numbers as numbers."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return neutralise(str(value))


@dataclass(frozen=True, slots=True)
class SheetSpec:
    """One worksheet: an optional bold title line, the header row, then the rows."""

    name: str
    headers: Sequence[str]
    rows: Iterable[Sequence[Cell]]
    title: str | None = None
    widths: Mapping[int, float] = field(default_factory=dict)
    default_width: float | None = None
    header_format: Mapping[str, Any] = field(default_factory=lambda: {"bold": True})
    first_column_bold: bool = False
    wrap: bool = False
    freeze_header: bool = False
    # column → words offered as a drop-down (a hint only: other spellings are accepted on import)
    choices: Mapping[int, Sequence[str]] = field(default_factory=dict)


def _write_sheet(workbook: Any, spec: SheetSpec) -> None:
    worksheet = workbook.add_worksheet(spec.name)
    header = workbook.add_format(dict(spec.header_format))
    body = workbook.add_format({"text_wrap": True, "valign": "top"}) if spec.wrap else None
    first = workbook.add_format({"bold": True, "valign": "top"}) if spec.first_column_bold else body
    top = 0
    if spec.title is not None:
        worksheet.write_string(0, 0, neutralise(spec.title), workbook.add_format({"bold": True}))
        top = 2
    for column, name in enumerate(spec.headers):
        worksheet.write_string(top, column, neutralise(name), header)
    if spec.default_width is not None and spec.headers:
        worksheet.set_column(0, len(spec.headers) - 1, spec.default_width)
    for column, width in spec.widths.items():
        worksheet.set_column(column, column, width)
    if spec.freeze_header:
        worksheet.freeze_panes(top + 1, 0)
    for row, cells in enumerate(spec.rows, start=top + 1):
        for column, raw in enumerate(cells):
            value = safe_cell(raw)
            style = first if column == 0 else body
            if value is None:
                continue
            if isinstance(value, str):
                worksheet.write_string(row, column, value, style)
            elif isinstance(value, bool):
                worksheet.write_boolean(row, column, value, style)
            else:
                worksheet.write_number(row, column, value, style)
    for column, words in spec.choices.items():
        worksheet.data_validation(top + 1, column, top + 5000, column,
                                  {"validate": "list", "source": [neutralise(w) for w in words],
                                   "error_type": "information"})  # fmt: skip


def write_workbook(sheets: Sequence[SheetSpec]) -> bytes:
    """An .xlsx file of ``sheets`` (blocking: run it in a worker thread)."""
    import xlsxwriter

    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, _WORKBOOK_OPTIONS) as workbook:
        for spec in sheets:
            _write_sheet(workbook, spec)
    return buffer.getvalue()


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """A .csv file in UTF-8 with a byte-order mark, so Excel opens the Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(h) for h in headers])
    for row in rows:
        writer.writerow(["" if (value := safe_cell(cell)) is None else value for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
