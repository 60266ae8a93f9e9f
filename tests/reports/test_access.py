"""Who sees what, as a matrix of roles × report endpoints."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.factories import headers_for
from tests.reports.factories_reports import Seat, make_exam, make_paper, make_units, seat_examinees

ENDPOINTS = ("report", "individuals", "notice", "items", "fairness", "export", "practice", "banks")
EVERYTHING = dict.fromkeys(ENDPOINTS, 200)
UNIT_ADMIN = {**EVERYTHING, "items": 403}
NOTHING = dict.fromkeys(ENDPOINTS, 403)

MATRIX: dict[str, dict[str, int]] = {
    "admin": EVERYTHING,
    "supervisor": EVERYTHING,
    "organiser": EVERYTHING,
    "unit_admin": UNIT_ADMIN,
    "proctor": NOTHING,
    "bank_editor": NOTHING,
    "examinee": NOTHING,
    "anonymous": dict.fromkeys(ENDPOINTS, 401),
}


def url(endpoint: str, exam_id: int) -> str:
    return {
        "report": f"/api/exams/{exam_id}/report",
        "individuals": f"/api/exams/{exam_id}/report/individuals",
        "notice": f"/api/exams/{exam_id}/report/notice",
        "items": f"/api/exams/{exam_id}/items",
        "fairness": f"/api/exams/{exam_id}/fairness",
        "export": f"/api/exams/{exam_id}/report/export?format=csv&table=individuals",
        "practice": "/api/reports/practice",
        "banks": "/api/reports/banks",
    }[endpoint]


async def two_unit_exam(session: AsyncSession) -> dict[str, Any]:
    own, other = await make_units(session, ["本单位", "外单位"], [40, 40])
    exam = await make_exam(session, [own, other])
    for unit, scores in ((own, [91, 72]), (other, [88, 55, 100])):
        paper = await make_paper(session, exam, unit)
        await seat_examinees(session, exam, paper, [Seat("chu", s) for s in scores])
    exam.status = "published"  # before publication a unit admin sees no results (tests/accounts/test_visibility.py)
    await session.commit()
    return {"exam": exam, "own": own, "other": other}


@pytest.mark.parametrize("role", list(MATRIX))
async def test_role_matrix(client: httpx2.AsyncClient, session: AsyncSession, role: str) -> None:
    built = await two_unit_exam(session)
    if role == "anonymous":
        headers: dict[str, str] = {}
    else:
        unit_id = built["own"].id if role in ("unit_admin", "examinee") else None
        headers = await headers_for(session, Role(role), unit_id=unit_id)
    for endpoint, expected in MATRIX[role].items():
        response = await client.get(url(endpoint, built["exam"].id), headers=headers)
        assert response.status_code == expected, (role, endpoint, response.text)


async def test_unit_admin_sees_the_whole_ranking_but_only_his_own_people(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    built = await two_unit_exam(session)
    own, other, exam = built["own"], built["other"], built["exam"]
    headers = await headers_for(session, Role.unit_admin, unit_id=own.id)
    report = (await client.get(f"/api/exams/{exam.id}/report", headers=headers)).json()
    assert {u["unit_id"] for u in report["units"]} == {own.id, other.id}

    mine = (await client.get(f"/api/exams/{exam.id}/report/individuals", headers=headers)).json()
    assert mine["unit_id"] == own.id
    assert sorted(row["score"] for row in mine["items"]) == [72, 91]
    assert {row["unit_id"] for row in mine["items"]} == {own.id}
    assert set(mine["items"][0]) >= {"participant_id", "cadre_name", "rank", "unit_id", "score", "submitted_at"}
    theirs = await client.get(f"/api/exams/{exam.id}/report/individuals?unit_id={other.id}", headers=headers)
    assert theirs.status_code == 403
    same = await client.get(f"/api/exams/{exam.id}/report/individuals?unit_id={own.id}", headers=headers)
    assert same.status_code == 200

    practice = (await client.get("/api/reports/practice", headers=headers)).json()
    assert [row["unit_id"] for row in practice["units"]] == [own.id]
    banks = (await client.get("/api/reports/banks", headers=headers)).json()
    assert [row["unit_id"] for row in banks["units"]] == [own.id]

    supervisor = await headers_for(session, Role.supervisor)
    everyone = (await client.get(f"/api/exams/{exam.id}/report/individuals", headers=supervisor)).json()
    assert len(everyone["items"]) == 5
    one = (await client.get(f"/api/exams/{exam.id}/report/individuals?unit_id={other.id}", headers=supervisor)).json()
    assert sorted(row["score"] for row in one["items"]) == [55, 88, 100]
    # Paged one row at a time: the same rows in the same order, the total on every page; scoped for the unit admin.
    url = f"/api/exams/{exam.id}/report/individuals"
    for caller, whole in ((supervisor, everyone), (headers, mine)):
        pages = [(await client.get(url, params={"limit": 1, "offset": n}, headers=caller)).json() for n in range(6)]
        walked = [row["participant_id"] for page in pages for row in page["items"]]
        assert walked == [row["participant_id"] for row in whole["items"]]
        assert {page["total"] for page in pages} == {whole["total"]} == {len(whole["items"])}
    assert mine["total"] == 2 and everyone["total"] == 5
    assert (await client.get(url, params={"limit": 0}, headers=supervisor)).json()["detail"][0]["loc"] == [
        "query",
        "limit",
    ]


async def test_unit_admin_without_a_unit_is_refused(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    built = await two_unit_exam(session)
    headers = await headers_for(session, Role.unit_admin)
    response = await client.get(f"/api/exams/{built['exam'].id}/report", headers=headers)
    assert response.status_code == 403
