"""Exports: the .xlsx read back with python-calamine, the .csv with its BOM, and the injection guard."""

from __future__ import annotations

import csv
import io

import httpx2
from python_calamine import CalamineWorkbook
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.exams.models import Exam
from app.reports.exports import neutralise
from tests.factories import headers_for
from tests.reports.factories_reports import Answer, Seat, SlotSpec, make_exam, make_paper, make_units, seat_examinees

EVIL_UNIT = '=HYPERLINK("http://evil.example","点击")'


def test_neutralise() -> None:
    assert [neutralise(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=x", "省法院", "", -1, 2.5, None)] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\t=x",
        "省法院",
        "",
        -1,
        2.5,
        None,
    ]


async def build(session: AsyncSession) -> dict[str, int]:
    evil, plain = await make_units(session, [EVIL_UNIT, "省国土厅"], [100, 100])
    exam = await make_exam(session, [evil, plain])
    slots = [SlotSpec("single", "theory", 50, "B"), SlotSpec("judge", "law", 50, "T")]
    paper = await make_paper(session, exam, evil, slots)
    await seat_examinees(
        session,
        exam,
        paper,
        [
            Seat("ke", 100, name="+cmd|' /C calc'!A0", answers={1: Answer("B", 50, True), 2: Answer("T", 50, True)}),
            Seat("chu", 50, name="-2+3", answers={1: Answer("A", 0, False), 2: Answer("T", 50, True)}),
        ],
    )
    other_paper = await make_paper(session, exam, plain)
    await seat_examinees(session, exam, other_paper, [Seat("ting", 90, name="@张三"), Seat("ke", 80, name="李四")])
    return {"exam": exam.id, "evil": evil.id, "plain": plain.id}


async def test_xlsx_round_trip_and_injection_guard(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    ids = await build(session)
    headers = await headers_for(session, Role.supervisor)
    response = await client.get(f"/api/exams/{ids['exam']}/report/export?format=xlsx", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    assert workbook.sheet_names == ["概况", "单位排名", "职级", "个人成绩", "试题分析"]

    overview = {row[0]: row[1] for row in workbook.get_sheet_by_name("概况").to_python()[1:]}
    assert overview["参考人数"] == 4 and overview["平均分"] == 80.0 and overview["优秀率(%)"] == 50.0

    ranking = workbook.get_sheet_by_name("单位排名").to_python()
    assert ranking[0][:5] == ["名次", "单位", "参考人数", "缺考人数", "平均分"]
    assert ranking[1][:5] == [1, "省国土厅", 4 - 2, 0, 85.0]
    assert ranking[2][1] == "'" + EVIL_UNIT and ranking[2][4] == 75.0

    ranks = workbook.get_sheet_by_name("职级").to_python()
    assert [row[0] for row in ranks[1:]] == ["厅级", "处级", "科级"]

    people = workbook.get_sheet_by_name("个人成绩").to_python()[1:]
    names = sorted(row[1] for row in people)
    assert names == sorted(["'+cmd|' /C calc'!A0", "'-2+3", "'@张三", "李四"])
    assert all(not str(cell).startswith(("=", "+", "-", "@")) for row in people for cell in row)

    items = workbook.get_sheet_by_name("试题分析").to_python()
    assert len(items) == 1 + 2 and items[1][8] == 50.0  # slot 1: one of two right (a percentage)


async def test_unit_admin_export_is_scoped(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    ids = await build(session)
    await session.execute(update(Exam).where(Exam.id == ids["exam"]).values(status="published"))
    await session.commit()  # a unit admin reads a formal exam's results once they are published
    headers = await headers_for(session, Role.unit_admin, unit_id=ids["plain"])
    response = await client.get(f"/api/exams/{ids['exam']}/report/export", headers=headers)
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    people = workbook.get_sheet_by_name("个人成绩").to_python()[1:]
    assert sorted(row[1] for row in people) == ["'@张三", "李四"]
    assert len(workbook.get_sheet_by_name("单位排名").to_python()) == 3  # the whole ranking
    assert len(workbook.get_sheet_by_name("试题分析").to_python()) == 1  # his paper has no slots


async def test_csv_exports_have_a_bom_and_are_guarded(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    ids = await build(session)
    headers = await headers_for(session, Role.organiser)
    base = f"/api/exams/{ids['exam']}/report/export?format=csv"
    units = await client.get(f"{base}&table=units", headers=headers)
    assert units.status_code == 200
    assert units.headers["content-type"].startswith("text/csv")
    assert units.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(units.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["名次", "单位"]
    assert rows[1][:5] == ["1", "省国土厅", "2", "0", "85.0"]
    assert rows[2][1] == "'" + EVIL_UNIT

    people = await client.get(f"{base}&table=individuals", headers=headers)
    rows = list(csv.reader(io.StringIO(people.content.decode("utf-8-sig"))))
    assert rows[0] == ["单位", "姓名", "职级", "得分", "百分制得分", "交卷时间"]
    assert {row[1] for row in rows[1:]} == {"'+cmd|' /C calc'!A0", "'-2+3", "'@张三", "李四"}
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)
