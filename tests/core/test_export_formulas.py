"""No export carries a live formula (issue 13, point 3): every .xlsx/.csv route, with hostile text injected
into names, stems, options, explanations, unit and exam names, read back cell by cell.

A hostile text shows up in the file with a leading ``'`` (so the test fails if a field is left out or
written raw), no worksheet holds a formula element, and no text cell starts with ``= + - @``, tab or CR.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import httpx2
from python_calamine import CalamineWorkbook
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.bank.models import QuestionVersion
from app.core.tabular import FORMULA_STARTS
from app.exams.models import Exam
from app.org.models import Cadre, Unit
from app.papers.models import Paper
from tests.exams.factories_attempts import make_exam_setup
from tests.factories import headers_for, make_question
from tests.reports.factories_reports import Answer, Seat, SlotSpec, make_exam, make_paper, make_units, seat_examinees

EVIL = {
    "unit": '=HYPERLINK("http://evil.example","点击")',
    "exam": "@SUM(1+1)*cmd|' /C calc'!A0",
    "cadre": "+cmd|' /C notepad'!A0",
    "employee_no": "\t-2+3",
    "stem": "=1+1 题干",
    "option": "+选项",
    "explanation": "=SUM(解析)",
    "legal_basis": "-依据",
    # written straight into the tables: the bank's normaliser strips leading white space
    "raw_explanation": "\t=解析",
    "raw_legal_basis": "\r=依据",
    "knowledge_point": "@知识点",
    "tag": "-标签",
}


def xlsx_texts(content: bytes) -> list[str]:
    """Every text cell of every sheet, after checking that no worksheet stores a formula."""
    with zipfile.ZipFile(io.BytesIO(content)) as package:
        for name in package.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<(?:\w+:)?f[\s>/]", package.read(name)), f"formula in {name}"
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
    texts = [
        cell
        for sheet in workbook.sheet_names
        for row in workbook.get_sheet_by_name(sheet).to_python()
        for cell in row
        if isinstance(cell, str)
    ]
    return _guarded(texts)


def csv_texts(content: bytes) -> list[str]:
    return _guarded([cell for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))) for cell in row])


def _guarded(texts: list[str]) -> list[str]:
    live = [text for text in texts if text.startswith(FORMULA_STARTS)]
    assert not live, live
    return texts


def assert_carried(texts: list[str], *keys: str) -> None:
    for key in keys:
        assert "'" + EVIL[key] in texts or any(t.startswith("'" + EVIL[key]) for t in texts), (key, texts[:40])


async def test_bank_exports_and_template(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    await make_question(session, stem=EVIL["stem"], options=[{"key": "A", "text": EVIL["option"]},
                                                              {"key": "B", "text": "乙"}],
                        answer=["A"], explanation=EVIL["explanation"], legal_basis=EVIL["legal_basis"],
                        knowledge_point=EVIL["knowledge_point"], tags=[EVIL["tag"]])  # fmt: skip
    editor = await headers_for(session, Role.bank_editor)
    keys = ("stem", "option", "explanation", "legal_basis", "knowledge_point", "tag")
    xlsx = await client.get("/api/questions/export", params={"format": "xlsx"}, headers=editor)
    assert xlsx.status_code == 200, xlsx.text
    assert_carried(xlsx_texts(xlsx.content), *keys)
    sheet_csv = await client.get("/api/questions/export", params={"format": "csv"}, headers=editor)
    assert_carried(csv_texts(sheet_csv.content), *keys)
    template = await client.get("/api/questions/template", headers=editor)
    assert "题型" in xlsx_texts(template.content)


async def test_paper_and_ticket_exports(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=2)
    unit, exam = setup.units[0], setup.exam
    await session.execute(update(Unit).where(Unit.id == unit.id).values(name=EVIL["unit"]))
    await session.execute(update(Exam).where(Exam.id == exam.id).values(name=EVIL["exam"]))
    cadre_ids = [e.cadre.id for e in setup.examinees]
    await session.execute(update(Cadre).where(Cadre.id.in_(cadre_ids)).values(name=EVIL["cadre"]))
    await session.execute(update(Cadre).where(Cadre.id == cadre_ids[0]).values(employee_no=EVIL["employee_no"]))
    paper = setup.papers[unit.id]
    content = [dict(item, stem=EVIL["stem"], options=[dict(o, text=EVIL["option"]) for o in item["options"]])
               for item in paper.content]  # fmt: skip
    await session.execute(update(Paper).where(Paper.id == paper.id).values(content=content))
    version_ids = [q.current_version_id for q in setup.questions]
    raw = {"explanation": EVIL["raw_explanation"], "legal_basis": EVIL["raw_legal_basis"]}
    await session.execute(update(QuestionVersion).where(QuestionVersion.id.in_(version_ids)).values(**raw))
    await session.commit()
    session.expunge_all()
    organiser = await headers_for(session, Role.organiser)

    exported = await client.get(f"/api/exams/{exam.id}/papers/{paper.id}/export", headers=organiser)
    assert exported.status_code == 200, exported.text
    assert_carried(xlsx_texts(exported.content), "exam", "stem", "option", "raw_explanation", "raw_legal_basis")

    tickets = await client.get(f"/api/exams/{exam.id}/tickets/export", headers=organiser)
    assert tickets.status_code == 200, tickets.text
    assert_carried(xlsx_texts(tickets.content), "exam", "unit", "cadre", "employee_no")
    with_pins = await client.post(f"/api/exams/{exam.id}/tickets/reissue?format=xlsx", json={"all": True},
                                  headers=organiser)  # fmt: skip
    assert with_pins.status_code == 200, with_pins.text
    assert_carried(xlsx_texts(with_pins.content), "exam", "unit", "cadre", "employee_no")


async def test_report_exports(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    (unit,) = await make_units(session, [EVIL["unit"]], [100])
    exam = await make_exam(session, [unit], name=EVIL["exam"])
    paper = await make_paper(session, exam, unit, [SlotSpec("single", "theory", 100, "B")])
    seat = Seat("ke", 100, name=EVIL["cadre"], answers={1: Answer("B", 100, True)})
    await seat_examinees(session, exam, paper, [seat])
    supervisor = await headers_for(session, Role.supervisor)
    base = f"/api/exams/{exam.id}/report/export"
    workbook = await client.get(base, params={"format": "xlsx"}, headers=supervisor)
    assert workbook.status_code == 200, workbook.text
    assert_carried(xlsx_texts(workbook.content), "exam", "unit", "cadre")
    units = await client.get(base, params={"format": "csv", "table": "units"}, headers=supervisor)
    assert_carried(csv_texts(units.content), "unit")
    people = await client.get(base, params={"format": "csv", "table": "individuals"}, headers=supervisor)
    assert_carried(csv_texts(people.content), "unit", "cadre")


def test_one_writer_writes_every_spreadsheet() -> None:
    app = Path(__file__).resolve().parents[2] / "app"
    writers = sorted(
        str(path.relative_to(app))
        for path in app.rglob("*.py")
        if re.search(r"\bxlsxwriter\b|csv\.writer|csv\.DictWriter", path.read_text(encoding="utf-8"))
    )
    assert writers == ["core/tabular.py"]
