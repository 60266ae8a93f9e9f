"""The raw responses export: long format, csv and xlsx, pseudonymous, shown and paper keys, scoped."""

from __future__ import annotations

import csv
import io

import httpx2
from python_calamine import CalamineWorkbook
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.exams.models import Attempt, Exam
from app.reports.exports import RESPONSE_HEADERS
from tests.factories import headers_for
from tests.reports.test_items_fairness import build_item_exam


def read_csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


async def test_responses_long_format_in_csv_and_xlsx(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    built = await build_item_exam(session)
    exam_id = built["exam"].id
    first = next(iter(built["people"].values()))[0]
    # This examinee saw the questions in reverse and question 1's options as B, A, C, D.
    await session.execute(
        update(Attempt)
        .where(Attempt.id == first["attempt_id"])
        .values(question_order=[5, 4, 3, 2, 1], option_orders={"1": ["B", "A", "C", "D"]})
    )
    await session.commit()
    headers = await headers_for(session, Role.supervisor)
    url = f"/api/exams/{exam_id}/report/responses"
    reply = await client.get(url, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    rows = read_csv(reply.content)
    assert list(rows[0]) == RESPONSE_HEADERS
    everyone = [p for people in built["people"].values() for p in people]
    assert len(rows) == 5 * len(everyone)
    by_examinee: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_examinee.setdefault(row["examinee"], []).append(row)
    assert len(by_examinee) == len(everyone)
    assert all(len(name) == 16 and int(name, 16) >= 0 for name in by_examinee)
    # Each examinee's five rows agree with what he answered.
    expected = sorted((p["correct"], p["earned"]) for p in everyone)
    got = sorted(
        (
            [int(r["correct"]) for r in sorted(rs, key=lambda r: int(r["paper_no"]))],
            [float(r["score"]) for r in sorted(rs, key=lambda r: int(r["paper_no"]))],
        )
        for rs in by_examinee.values()
    )
    assert got == [(c, [float(e) for e in earned]) for c, earned in expected]
    assert {r["exam_id"] for r in rows} == {str(exam_id)} and {r["rank"] for r in rows} == {"科级"}
    assert {r["question_version"] for r in rows} == {"1"}
    # Paper numbers and keys become what the examinee saw.
    shuffled = [r for r in rows if int(r["paper_no"]) == 1 and r["shown_no"] == "5"]
    assert len(shuffled) == 1
    assert (shuffled[0]["paper_key"], shuffled[0]["shown_key"]) == ("B", "A")
    if shuffled[0]["paper_answer"]:
        swap = {"A": "B", "B": "A"}
        assert shuffled[0]["shown_answer"] == "".join(sorted(swap.get(k, k) for k in shuffled[0]["paper_answer"]))
    plain = [r for r in rows if r["shown_no"] == r["paper_no"]]
    assert all(r["shown_key"] == r["paper_key"] for r in plain)
    # No name of a cadre is in the file.
    assert not any("干部" in value for row in rows for value in row.values())

    xlsx = await client.get(url, params={"format": "xlsx"}, headers=headers)
    assert xlsx.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(xlsx.content)).get_sheet_by_index(0).to_python()
    assert [str(h) for h in sheet[0]] == RESPONSE_HEADERS and len(sheet) == len(rows) + 1


async def test_responses_are_scoped_like_the_reports(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    built = await build_item_exam(session)
    exam_id = built["exam"].id
    own, _other = built["units"]
    headers = await headers_for(session, Role.unit_admin, unit_id=own.id)
    unpublished = await client.get(f"/api/exams/{exam_id}/report/responses", headers=headers)
    assert unpublished.status_code == 403  # a unit admin reads individual rows only once results are published
    await session.execute(update(Exam).where(Exam.id == exam_id).values(status="published"))
    await session.commit()
    rows = read_csv((await client.get(f"/api/exams/{exam_id}/report/responses", headers=headers)).content)
    own_people = sum(len(p) for paper_id, p in built["people"].items() if built["paper_units"][paper_id] == own.id)
    assert len(rows) == 5 * own_people and {r["unit_name"] for r in rows} == {own.name}
    proctor = await headers_for(session, Role.proctor)
    assert (await client.get(f"/api/exams/{exam_id}/report/responses", headers=proctor)).status_code == 403
    supervisor = await headers_for(session, Role.supervisor)
    missing = await client.get("/api/exams/999999/report/responses", headers=supervisor)
    assert missing.status_code == 404
