"""A unit "ran none" until its cadres have sat one of its practice exams: set up, drawn or only begun is none."""

from __future__ import annotations

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.factories import headers_for
from tests.reports.factories_reports import Seat, make_exam, make_paper, make_units, seat_examinees


async def test_practice_exams_never_drawn_or_sat_leave_ran_none_true(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    set_up, drawn, begun, sat = await make_units(session, ["只建未抽", "抽卷未考", "开考未交", "已练单位"])
    await make_exam(session, [set_up], name="练习甲", mode="practice")
    exam = await make_exam(session, [drawn], name="练习乙", mode="practice")
    await make_paper(session, exam, drawn)
    exam = await make_exam(session, [begun], name="练习丙", mode="practice")
    await seat_examinees(session, exam, await make_paper(session, exam, begun), [Seat("ke", None, in_progress=True)])
    exam = await make_exam(session, [sat], name="练习丁", mode="practice")
    await seat_examinees(session, exam, await make_paper(session, exam, sat), [Seat("ke", 80)])

    body = (await client.get("/api/reports/practice", headers=await headers_for(session, Role.supervisor))).json()
    rows = {row["unit_id"]: row for row in body["units"]}
    assert [
        (rows[u.id]["practice_exams"], rows[u.id]["practice_exams_sat"], rows[u.id]["ran_none"])
        for u in (set_up, drawn, begun, sat)
    ] == [(1, 0, True), (1, 0, True), (1, 0, True), (1, 1, False)]
    assert set(body["units_without_practice"]) >= {"只建未抽", "抽卷未考", "开考未交"}
    assert "已练单位" not in body["units_without_practice"]
