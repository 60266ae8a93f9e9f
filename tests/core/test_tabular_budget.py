"""Uploaded spreadsheets are checked against a budget before calamine reads them (issue 13, point 2).

Every hostile file is built here: a sparse sheet (A1 and XFD1048576), a sheet whose cells lie about their
place, a decompression bomb, and files just under and just over each limit.
"""

from __future__ import annotations

import functools
import io
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
import xlsxwriter
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.core.errors import ImportRejectedError
from app.core.tabular import DEFAULT_BUDGET, ImportTooLargeError, SheetBudget, check_xlsx_budget, read_table
from tests.factories import headers_for, make_unit

SHEET = "xl/worksheets/sheet1.xml"


def _workbook(rows: list[list[object]]) -> bytes:
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, {"in_memory": True}) as workbook:
        sheet = workbook.add_worksheet()
        for number, row in enumerate(rows):
            sheet.write_row(number, 0, row)
    return buffer.getvalue()


def _rewrite(content: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    """The package with one part rewritten (and deflated again)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info.filename, change(data) if info.filename == name else data)
    return out.getvalue()


def sparse_sheet(dimension: str | None = "A1:XFD1048576", far_cell: bytes | None = None) -> bytes:
    """A1 and XFD1048576 only: calamine would allocate 1,048,576 × 16,384 cells of 32 bytes (550 GB)."""
    base = _workbook([["题型"]])
    far = far_cell or b'<c r="XFD1048576" t="n"><v>1</v></c>'

    def change(xml: bytes) -> bytes:
        declared = b"" if dimension is None else f'<dimension ref="{dimension}"/>'.encode()
        xml = re.sub(rb'<dimension ref="[^"]*"/>', declared, xml)
        return xml.replace(b"</sheetData>", b'<row r="1048576">' + far + b"</row></sheetData>")

    return _rewrite(base, SHEET, change)


@functools.cache
def padded(name: str, megabytes: float) -> bytes:
    """A workbook whose part ``name`` carries ``megabytes`` of XML whitespace (deflates ~1000:1)."""
    base = _workbook([["题型", "题干"], ["单选", "题一"]])
    padding = b" " * int(megabytes * 2**20)
    return _rewrite(base, name, lambda xml: xml.replace(b"?>", b"?>" + padding, 1))


def test_sparse_sheet_is_refused_before_reading() -> None:
    content = sparse_sheet()
    assert len(content) < 8000
    with pytest.raises(ImportTooLargeError) as refused:
        read_table("sparse.xlsx", content)
    assert refused.value.status_code == 413
    assert "A1:XFD1048576" in refused.value.errors[0]["message"]


def test_the_sparse_sheet_really_kills_a_bare_calamine_reader(tmp_path: Path) -> None:
    path = tmp_path / "sparse.xlsx"
    path.write_bytes(sparse_sheet())
    script = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30));"
        "from python_calamine import CalamineWorkbook;"
        "CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).to_python()"
    )
    bare = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, timeout=60, check=False)
    assert bare.returncode != 0
    assert b"memory allocation" in bare.stderr


@pytest.mark.parametrize(
    "far_cell",
    [
        b'<c r="XFD1048576"><v>1</v></c>',
        # the reference after an attribute holding ">": a naive tag pattern would stop early
        b'<c t=">" r="XFD1048576"><v>1</v></c>',
        b"<c s='0' r='XFD1048576'><v>1</v></c>",
    ],
)
def test_cells_are_counted_even_when_the_declared_dimension_lies(far_cell: bytes) -> None:
    content = sparse_sheet(dimension="A1:A1", far_cell=far_cell)
    with pytest.raises(ImportTooLargeError) as refused:
        read_table("liar.xlsx", content)
    assert "第 1048576 行" in refused.value.errors[0]["message"]


def test_no_dimension_and_an_escaped_reference_is_a_bad_file() -> None:
    content = sparse_sheet(dimension=None, far_cell=b'<c r="&#88;FD1048576"><v>1</v></c>')
    with pytest.raises(ImportRejectedError) as refused:
        read_table("entity.xlsx", content)
    assert refused.value.status_code == 422
    assert "单元格位置" in refused.value.errors[0]["message"]


@pytest.mark.parametrize("part", [SHEET, "xl/sharedStrings.xml"])
def test_decompression_bomb_is_refused_without_inflating_it(part: str) -> None:
    content = padded(part, 201)
    assert len(content) < 2**20 < DEFAULT_BUDGET.max_uncompressed_bytes < 201 * 2**20
    with pytest.raises(ImportTooLargeError) as refused:
        read_table("bomb.xlsx", content)
    assert "压缩炸弹" in refused.value.errors[0]["message"]


def test_uncompressed_size_just_under_and_over_the_budget() -> None:
    budget = SheetBudget(max_uncompressed_bytes=3 * 2**20)
    rows = read_table("under.xlsx", padded(SHEET, 2.5), budget)
    assert [r.values for r in rows] == [{"题型": "单选", "题干": "题一"}]
    with pytest.raises(ImportTooLargeError):
        read_table("over.xlsx", padded(SHEET, 3.1), budget)


def test_rows_just_under_and_over_the_budget() -> None:
    budget = SheetBudget(max_rows=3000)
    under = _workbook([["题干"], *([f"题{n}"] for n in range(2999))])
    rows = read_table("under.xlsx", under, budget)
    assert (len(rows), rows[-1].row, rows[-1].values) == (2999, 3000, {"题干": "题2998"})
    over = _workbook([["题干"], *([f"题{n}"] for n in range(3000))])
    with pytest.raises(ImportTooLargeError) as refused:
        check_xlsx_budget(over, budget)
    assert "3001 行" in refused.value.errors[0]["message"]


def test_cells_without_a_place_are_counted_one_by_one() -> None:
    # No r attributes: each <c> is the next column, each <row> the next row.
    row = b"<row>" + b"<c><v>1</v></c>" * 30 + b"</row>"
    content = _rewrite(_workbook([["a"]]), SHEET, lambda xml: re.sub(rb"<sheetData>.*</sheetData>",
                                                                      b"<sheetData>" + row * 3 + b"</sheetData>", xml,
                                                                      flags=re.DOTALL))  # fmt: skip
    assert len(read_table("plain.xlsx", content, SheetBudget(max_columns=30, max_rows=3))) == 2
    with pytest.raises(ImportTooLargeError):
        read_table("plain.xlsx", content, SheetBudget(max_columns=29))
    with pytest.raises(ImportTooLargeError):
        read_table("plain.xlsx", content, SheetBudget(max_rows=2))


def test_default_budget_takes_a_large_bank() -> None:
    # 20,000 questions in the template's 20 columns fit the default budget with room to spare.
    assert DEFAULT_BUDGET.max_rows > 20_001 and DEFAULT_BUDGET.max_cells > 20_001 * 20


def test_cells_just_under_and_over_the_budget() -> None:
    budget = SheetBudget(max_cells=60, max_columns=20)
    assert len(read_table("under.xlsx", _workbook([[f"列{c}" for c in range(20)]] * 3), budget)) == 2
    with pytest.raises(ImportTooLargeError):
        read_table("over.xlsx", _workbook([[f"列{c}" for c in range(20)]] * 4), budget)
    with pytest.raises(ImportTooLargeError):
        read_table("wide.xlsx", _workbook([[f"列{c}" for c in range(21)]]), budget)


def test_csv_rows_and_columns_are_budgeted_too() -> None:
    budget = SheetBudget(max_rows=3, max_columns=4)
    assert len(read_table("ok.csv", b"a,b,c,d\n1,2,3,4\n5,6,7,8\n", budget)) == 2
    with pytest.raises(ImportTooLargeError):
        read_table("long.csv", b"a\n1\n2\n3\n", budget)
    with pytest.raises(ImportTooLargeError):
        read_table("wide.csv", b"a,b,c,d,e\n", budget)


@pytest.mark.parametrize("suffix", [".xls", ".ods"])
def test_formats_without_a_budget_check_are_refused_in_chinese(suffix: str) -> None:
    with pytest.raises(ImportRejectedError) as refused:
        read_table(f"old{suffix}", b"\xd0\xcf\x11\xe0")
    assert refused.value.status_code == 422
    assert "另存为 .xlsx" in refused.value.errors[0]["message"]


def test_not_a_zip_is_a_422() -> None:
    with pytest.raises(ImportRejectedError) as refused:
        read_table("fake.xlsx", b"this is not a workbook")
    assert (refused.value.status_code, refused.value.errors[0]["field"]) == (422, "file")


async def test_hostile_spreadsheets_get_413_from_both_imports(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit = await make_unit(session)
    editor = await headers_for(session, Role.bank_editor)
    admin = await headers_for(session, Role.unit_admin, unit_id=unit.id)
    for content in (sparse_sheet(), padded("xl/sharedStrings.xml", 201)):
        questions = await client.post("/api/questions/import", files={"file": ("bank.xlsx", content)}, headers=editor)
        assert questions.status_code == 413, questions.text
        assert questions.json()["errors"][0]["field"] == "file"
        roster = await client.post(f"/api/units/{unit.id}/cadres/import", files={"file": ("roster.xlsx", content)},
                                   headers=admin)  # fmt: skip
        assert roster.status_code == 413, roster.text
    # the server is still there and the file changed nothing
    listed = await client.get(f"/api/units/{unit.id}/cadres", headers=admin)
    assert (listed.status_code, listed.json()) == (200, [])


async def test_upload_over_the_size_limit_is_413_without_reading_it_all(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    editor = await headers_for(session, Role.bank_editor)
    big = b"a" * (20 * 2**20 + 1)
    response = await client.post("/api/questions/import", files={"file": ("big.csv", big)}, headers=editor)
    assert response.status_code == 413
    assert "20 MB" in response.json()["errors"][0]["message"]
