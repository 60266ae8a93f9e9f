"""Participants and admission tickets over HTTP: lists, samples, PINs, login, re-issue, export, removal."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role, User
from app.core.clock import FrozenClock
from app.core.security import looks_like_ticket
from app.exams.models import Exam, ExamStatus, Participant
from app.org.models import Unit
from tests.factories import headers_for, make_cadre, make_unit
from tests.papers.factories_papers import SMALL_SECTIONS, make_blueprint, make_exam, start_attempt, stock_bank


async def roster(session: AsyncSession, unit: Unit, ting: int, chu: int, ke: int) -> list[int]:
    ids = []
    for rank, count in (("ting", ting), ("chu", chu), ("ke", ke)):
        for _ in range(count):
            ids.append((await make_cadre(session, unit, rank=rank)).id)
    return ids


async def exam_with_units(session: AsyncSession, *units: Unit, **overrides: Any) -> Exam:
    blueprint = await make_blueprint(session, SMALL_SECTIONS)
    return await make_exam(session, blueprint, [u.id for u in units], **overrides)


async def login(client: httpx2.AsyncClient, username: str, password: str) -> httpx2.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_listed_cadres_get_tickets_and_can_log_in(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 1, 1, 2)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    response = await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    assert response.status_code == 201, response.text
    issued = response.json()
    assert [i["cadre_id"] for i in issued] == sorted(cadres)
    for seq, item in enumerate(issued, start=1):
        assert item["ticket_no"].startswith(f"{exam.id:04d}-{unit.id:03d}-{seq:04d}-")
        assert looks_like_ticket(item["ticket_no"])
        assert re.fullmatch(r"\d{6}", item["pin"]) and item["created"] is True and item["unit_id"] == unit.id
    ok = await login(client, issued[0]["ticket_no"], issued[0]["pin"])
    assert ok.status_code == 200, ok.text
    assert ok.json()["user"]["roles"] == ["examinee"] and ok.json()["user"]["unit_id"] == unit.id
    assert (
        await login(client, issued[1]["ticket_no"], "000000" if issued[1]["pin"] != "000000" else "111111")
    ).status_code == 401
    examinee = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    assert [e["id"] for e in (await client.get("/api/exams", headers=examinee)).json()["items"]] == [exam.id]
    assert (await client.get(f"/api/exams/{exam.id}", headers=examinee)).status_code == 200

    tickets = (await client.get(f"/api/exams/{exam.id}/tickets", headers=organiser)).json()
    assert [t["ticket_no"] for t in tickets] == [i["ticket_no"] for i in issued]
    assert all("pin" not in t for t in tickets)
    assert (await login(client, issued[0]["ticket_no"], issued[0]["pin"])).status_code == 200
    again = (
        await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres[:2]}, headers=organiser)
    ).json()
    assert [(i["created"], i["pin"]) for i in again] == [(False, None), (False, None)]
    user = await session.scalar(select(User).where(User.username == issued[0]["ticket_no"]))
    assert user is not None and user.password_hash.startswith("hmac-sha256$")
    assert issued[0]["pin"] not in user.password_hash


async def test_listed_cadres_are_checked(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit, outsider = await make_unit(session), await make_unit(session)
    [cadre] = await roster(session, unit, 0, 0, 1)
    [other] = await roster(session, outsider, 0, 0, 1)
    inactive = await make_cadre(session, unit, is_active=False)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    url = f"/api/exams/{exam.id}/participants"
    for body, text in (
        ({"cadre_ids": [cadre, cadre]}, "重复列出"),
        ({"cadre_ids": [cadre, 999_999]}, "干部不存在"),
        ({"cadre_ids": [inactive.id]}, "已停用"),
        ({"cadre_ids": [other]}, "未参加本场考试"),
        ({"cadre_ids": [cadre], "sample": {"ratio": 0.1}}, "之一"),
        ({}, "之一"),
    ):
        response = await client.post(url, json=body, headers=organiser)
        assert response.status_code == 422 and text in response.text, (body, response.text)
    assert (await client.get(f"/api/exams/{exam.id}/tickets", headers=organiser)).json() == []


async def test_stratified_sample_minimums_and_warnings(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    normal = await make_unit(session)
    large = await make_unit(session, large=True)
    small = await make_unit(session)
    await roster(session, normal, 2, 20, 48)  # 70 cadres
    await roster(session, large, 3, 30, 67)  # 100 cadres
    await roster(session, small, 1, 6, 13)  # 20 cadres
    exam = await exam_with_units(session, normal, large, small)
    organiser = await headers_for(session, Role.organiser)
    spec = {"ratio": 0.1, "minimum": 30, "large_minimum": 50, "seed": 2026}
    preview = await client.post(f"/api/exams/{exam.id}/participants/preview", json=spec, headers=organiser)
    assert preview.status_code == 200, preview.text
    plan = {u["unit_id"]: u for u in preview.json()["units"]}
    assert plan[normal.id]["selected"] == 30 and plan[normal.id]["targets"] == {"ting": 1, "chu": 9, "ke": 20}
    assert plan[large.id]["selected"] == 50 and plan[large.id]["minimum"] == 50
    assert plan[large.id]["targets"] == {"ting": 2, "chu": 15, "ke": 33}
    assert plan[small.id]["selected"] == 20 and "少于最低人数 30" in plan[small.id]["warnings"][0]
    assert preview.json()["total"] == 100

    response = await client.post(f"/api/exams/{exam.id}/participants", json={"sample": spec}, headers=organiser)
    assert response.status_code == 201, response.text
    issued = response.json()
    assert len(issued) == 100 and all(i["pin"] for i in issued)
    warnings = json.loads(response.headers["X-Exambank-Warnings"])
    assert len(warnings) == 1 and warnings[0].startswith(small.code)
    by_unit_rank: dict[tuple[int, str], int] = {}
    for item in issued:
        by_unit_rank[item["unit_id"], item["rank"]] = by_unit_rank.get((item["unit_id"], item["rank"]), 0) + 1
    assert by_unit_rank[normal.id, "chu"] == 9 and by_unit_rank[large.id, "ke"] == 33
    # Sampling again with the same seed keeps everyone and adds nobody.
    again = (await client.post(f"/api/exams/{exam.id}/participants", json={"sample": spec}, headers=organiser)).json()
    assert {i["cadre_id"] for i in again} == {i["cadre_id"] for i in issued}
    assert not any(i["created"] for i in again)


async def test_sample_is_reproducible_from_the_exam_seed(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    await roster(session, unit, 2, 30, 60)
    organiser = await headers_for(session, Role.organiser)
    first = await exam_with_units(session, unit, seed=77)
    second = await exam_with_units(session, unit, seed=77)
    third = await exam_with_units(session, unit, seed=78)
    chosen = []
    for exam in (first, second, third):
        response = await client.post(
            f"/api/exams/{exam.id}/participants", json={"sample": {"ratio": 0.2}}, headers=organiser
        )
        assert response.status_code == 201, response.text
        chosen.append(sorted(i["cadre_id"] for i in response.json()))
    assert chosen[0] == chosen[1] != chosen[2]
    assert len(chosen[0]) == 30


async def test_reissue_replaces_the_pin_and_ends_sessions(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 1, 1)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    issued = (
        await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    ).json()
    first = issued[0]
    token = (await login(client, first["ticket_no"], first["pin"])).json()["access_token"]
    examinee = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/auth/me", headers=examinee)).status_code == 200
    response = await client.post(
        f"/api/exams/{exam.id}/tickets/reissue", json={"cadre_ids": [first["cadre_id"]]}, headers=organiser
    )
    assert response.status_code == 200, response.text
    [renewed] = response.json()
    assert renewed["ticket_no"] == first["ticket_no"] and re.fullmatch(r"\d{6}", renewed["pin"])
    assert (await client.get("/api/auth/me", headers=examinee)).status_code == 401
    if renewed["pin"] != first["pin"]:
        assert (await login(client, first["ticket_no"], first["pin"])).status_code == 401
    assert (await login(client, first["ticket_no"], renewed["pin"])).status_code == 200
    # The other participant's PIN still works.
    assert (await login(client, issued[1]["ticket_no"], issued[1]["pin"])).status_code == 200
    single = await client.post(f"/api/exams/{exam.id}/tickets/{issued[1]['ticket_no']}/reissue", headers=organiser)
    assert single.status_code == 200 and single.json()["cadre_id"] == issued[1]["cadre_id"]
    assert (await login(client, issued[1]["ticket_no"], single.json()["pin"])).status_code == 200
    unknown = await client.post(
        f"/api/exams/{exam.id}/tickets/reissue", json={"cadre_ids": [999_999]}, headers=organiser
    )
    assert unknown.status_code == 422


async def test_reissue_unlocks_a_locked_ticket(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 0, 1)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    [item] = (
        await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    ).json()
    wrong = "999999" if item["pin"] != "999999" else "888888"
    for _ in range(5):
        await login(client, item["ticket_no"], wrong)
    assert (await login(client, item["ticket_no"], item["pin"])).status_code == 429
    [renewed] = (
        await client.post(f"/api/exams/{exam.id}/tickets/reissue", json={"all": True}, headers=organiser)
    ).json()
    assert (await login(client, item["ticket_no"], renewed["pin"])).status_code == 200


async def test_ticket_exports(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session, name="省公安厅")
    cadres = await roster(session, unit, 1, 1, 1)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    plain = await client.get(f"/api/exams/{exam.id}/tickets/export", headers=organiser)
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(plain.content)).get_sheet_by_index(0).to_python()
    assert rows[2] == ["准考证号", "姓名", "职级", "单位代码", "单位", "工号"]
    assert rows[3][0].startswith(f"{exam.id:04d}-") and rows[3][4] == "省公安厅" and rows[3][2] == "厅级"
    with_pins = await client.post(
        f"/api/exams/{exam.id}/tickets/reissue?format=xlsx", json={"unit_id": unit.id}, headers=organiser
    )
    assert with_pins.status_code == 200, with_pins.text
    rows = CalamineWorkbook.from_filelike(io.BytesIO(with_pins.content)).get_sheet_by_index(0).to_python()
    assert rows[2][-1] == "密码 (PIN)" and len(rows) == 6
    pin, ticket_no = rows[3][-1], rows[3][0]
    assert re.fullmatch(r"\d{6}", pin)
    assert (await login(client, ticket_no, pin)).status_code == 200


async def test_ticket_visibility(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    own, other = await make_unit(session), await make_unit(session)
    cadres = await roster(session, own, 0, 1, 1) + await roster(session, other, 0, 1, 1)
    exam = await exam_with_units(session, own, other)
    organiser = await headers_for(session, Role.organiser)
    await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=own.id)
    mine = await client.get(f"/api/exams/{exam.id}/tickets", headers=unit_admin)
    assert mine.status_code == 200 and {t["unit_id"] for t in mine.json()} == {own.id}
    assert (await client.get(f"/api/exams/{exam.id}/tickets?unit_id={other.id}", headers=unit_admin)).status_code == 403
    # Re-issuing is the organiser's: the unit admin of a formal exam may only list.
    assert (await client.post(f"/api/exams/{exam.id}/tickets/reissue", headers=unit_admin)).status_code == 403
    listed = (await client.get(f"/api/exams/{exam.id}/participants", headers=unit_admin)).json()["items"]
    assert {p["unit_id"] for p in listed} == {own.id}
    proctor = await headers_for(session, Role.proctor)
    assert len((await client.get(f"/api/exams/{exam.id}/tickets", headers=proctor)).json()) == 4
    examinee = await headers_for(session, Role.examinee)
    assert (await client.get(f"/api/exams/{exam.id}/tickets", headers=examinee)).status_code == 403
    stranger = await headers_for(session, Role.unit_admin, unit_id=(await make_unit(session)).id)
    assert (await client.get(f"/api/exams/{exam.id}/tickets", headers=stranger)).status_code == 404
    for headers in (unit_admin, proctor, examinee):
        response = await client.post(
            f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres[:1]}, headers=headers
        )
        assert response.status_code == 403
        response = await client.post(f"/api/exams/{exam.id}/tickets/reissue", json={"all": True}, headers=headers)
        assert response.status_code == 403


async def test_unit_admin_runs_his_own_practice_exam(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 2, 3)
    await stock_bank(session, [unit.id], sections=SMALL_SECTIONS)
    blueprint = await make_blueprint(session, SMALL_SECTIONS)
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=unit.id)
    exam = (
        await client.post(
            "/api/exams",
            headers=unit_admin,
            json={
                "name": "本单位练习",
                "blueprint_id": blueprint.id,
                "mode": "practice",
                "unit_ids": [unit.id],
                "max_attempts": 3,
            },
        )
    ).json()
    assert (await client.post(f"/api/exams/{exam['id']}/papers", headers=unit_admin)).status_code == 201
    response = await client.post(
        f"/api/exams/{exam['id']}/participants", json={"cadre_ids": cadres}, headers=unit_admin
    )
    assert response.status_code == 201 and len(response.json()) == 5


async def test_no_new_participants_after_close(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 0, 3)
    organiser = await headers_for(session, Role.organiser)
    ended = await exam_with_units(session, unit, status="drawn", closes_at=clock.now() - timedelta(minutes=1))
    response = await client.post(f"/api/exams/{ended.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    assert response.status_code == 409 and "不能再增加考生" in response.json()["detail"]
    closed = await exam_with_units(session, unit, status=ExamStatus.closed)
    response = await client.post(
        f"/api/exams/{closed.id}/participants", json={"sample": {"ratio": 0.5}}, headers=organiser
    )
    assert response.status_code == 409
    reissue = await client.post(f"/api/exams/{closed.id}/tickets/reissue", json={"all": True}, headers=organiser)
    assert reissue.status_code == 409


async def test_remove_participant_before_start_only(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 1, 1)
    await stock_bank(session, [unit.id], sections=SMALL_SECTIONS)
    blueprint = await make_blueprint(session, SMALL_SECTIONS)
    exam = await make_exam(session, blueprint, [unit.id])
    organiser = await headers_for(session, Role.organiser)
    issued = (
        await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    ).json()
    removed = await client.delete(f"/api/exams/{exam.id}/participants/{cadres[0]}", headers=organiser)
    assert removed.status_code == 204
    assert (await login(client, issued[0]["ticket_no"], issued[0]["pin"])).status_code == 401
    assert await session.scalar(select(User.id).where(User.username == issued[0]["ticket_no"])) is None
    assert (await client.delete(f"/api/exams/{exam.id}/participants/{cadres[0]}", headers=organiser)).status_code == 404
    [paper] = (await client.post(f"/api/exams/{exam.id}/papers", headers=organiser)).json()
    await start_attempt(session, exam.id, paper["paper_id"], unit.id, cadres[1])
    refused = await client.delete(f"/api/exams/{exam.id}/participants/{cadres[1]}", headers=organiser)
    assert refused.status_code == 409 and "已开始考试" in refused.json()["detail"]
    # A new participant continues the unit's numbering instead of reusing a removed ticket.
    again = (
        await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": [cadres[0]]}, headers=organiser)
    ).json()
    assert again[0]["ticket_no"].split("-")[2] == "0003"
    assert await session.scalar(select(Participant.id).where(Participant.cadre_id == cadres[0])) is not None


async def test_listing_tickets_twice_changes_nothing_and_every_pin_works(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 1, 2)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    issued = (
        await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    ).json()
    hashes = sorted(await session.scalars(select(User.password_hash).where(User.username.like(f"{exam.id:04d}-%"))))
    audits = await session.scalar(sql("SELECT COUNT(*) FROM audit_log"))
    first = await client.get(f"/api/exams/{exam.id}/tickets", headers=organiser)
    second = await client.get(f"/api/exams/{exam.id}/tickets", headers=organiser)
    assert first.status_code == second.status_code == 200 and first.json() == second.json()
    assert [t["ticket_no"] for t in first.json()] == [i["ticket_no"] for i in issued]
    assert not any("pin" in t for t in first.json())
    session.expire_all()
    assert sorted(await session.scalars(select(User.password_hash).where(
        User.username.like(f"{exam.id:04d}-%")))) == hashes  # fmt: skip
    assert await session.scalar(sql("SELECT COUNT(*) FROM audit_log")) == audits
    for item in issued:
        assert (await login(client, item["ticket_no"], item["pin"])).status_code == 200


async def test_reissue_without_a_body_renews_every_pin(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 1, 2)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    issued = (
        await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    ).json()
    response = await client.post(f"/api/exams/{exam.id}/tickets/reissue", headers=organiser)
    assert response.status_code == 200, response.text
    renewed = {t["ticket_no"]: t["pin"] for t in response.json()}
    assert sorted(renewed) == sorted(i["ticket_no"] for i in issued)
    for item in issued:
        if item["pin"] != renewed[item["ticket_no"]]:
            assert (await login(client, item["ticket_no"], item["pin"])).status_code == 401
        assert (await login(client, item["ticket_no"], renewed[item["ticket_no"]])).status_code == 200
    both = await client.post(
        f"/api/exams/{exam.id}/tickets/reissue", json={"all": True, "unit_id": unit.id}, headers=organiser
    )
    assert both.status_code == 422


async def test_new_tickets_leave_the_planner_statistics_current(
    client: httpx2.AsyncClient, session: AsyncSession, is_postgres: bool
) -> None:
    """PostgreSQL: issuing tickets analyzes the accounts and participants, so the first start (thousands at
    once) finds each examinee by his account, not by reading every participant of the exam."""
    if not is_postgres:
        pytest.skip("PostgreSQL's planner statistics")
    unit = await make_unit(session)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    cadres = await roster(session, unit, 2, 3, 5)

    response = await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)

    assert response.status_code == 201, response.text
    # Statistics taken in this very transaction count its new rows (untouched, they predate them).
    estimated = await session.scalar(sql("SELECT reltuples FROM pg_class WHERE relname = 'participants'"))
    present = await session.scalar(select(func.count()).select_from(Participant))
    assert present and estimated == present
