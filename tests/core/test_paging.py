"""Paging of the growing list routes (app/core/paging.py): every row once, a SQL total, one rule for the bounds,
the contract's bare lists unchanged, scoping counted in the total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role, User
from app.core.audit import AuditEntry
from app.core.paging import DEFAULT_LIMIT, MAX_LIMIT, TOTAL_COUNT_HEADER, Page, page_of
from app.exams.models import Absence, Exam, Incident, Participant
from app.org.models import Cadre, Unit
from app.papers.models import Blueprint
from tests.exams.test_participants_api import exam_with_units
from tests.factories import headers_for, make_cadre, make_unit

# The routes the contract (API.md) fixes as JSON lists: a bare list body, the total in X-Total-Count.
CONTRACT_LISTS = {"/api/units", "/api/units/{unit_id}/cadres", "/api/exams/{exam_id}/tickets"}
# Lists that stay small by nature: the built-in presets, one question's versions.
BOUNDED_LISTS = {"/api/blueprints/presets", "/api/questions/{question_id}/versions"}


@dataclass
class Round:
    """Two units in one exam: participants, absences and incidents in both."""

    exam: Exam
    own: Unit
    other: Unit
    admin: dict[str, str]


async def _round(client: httpx2.AsyncClient, session: AsyncSession) -> Round:
    own, other, _third = await make_unit(session), await make_unit(session), await make_unit(session)
    own_cadres = [(await make_cadre(session, own)).id for _ in range(7)]
    other_cadres = [(await make_cadre(session, other)).id for _ in range(5)]
    exam = await exam_with_units(session, own, other)
    for _ in range(2):  # more exams and blueprints to page through, none of them the own unit's
        await exam_with_units(session, other)
    admin = await headers_for(session, Role.admin)
    added = await client.post(
        f"/api/exams/{exam.id}/participants", json={"cadre_ids": own_cadres + other_cadres}, headers=admin
    )
    assert added.status_code == 201, added.text
    for cadre_id in own_cadres[:3] + other_cadres[:2]:
        body = {"cadre_id": cadre_id, "reason": "因病"}
        assert (await client.post(f"/api/exams/{exam.id}/absences", json=body, headers=admin)).status_code == 201
    for cadre_id in own_cadres[3:7] + other_cadres[2:5]:
        body = {"cadre_id": cadre_id, "kind": "peeking"}
        assert (await client.post(f"/api/exams/{exam.id}/incidents", json=body, headers=admin)).status_code == 201
    return Round(exam=exam, own=own, other=other, admin=admin)


def _routes(r: Round) -> list[tuple[str, str, Select[Any]]]:
    """Each route with the key that names a row and the SQL that selects the rows it must list."""
    exam_id = r.exam.id
    of_exam = Participant.exam_id == exam_id
    return [
        ("/api/units", "id", select(Unit.id)),
        (f"/api/units/{r.own.id}/cadres", "id", select(Cadre.id).where(Cadre.unit_id == r.own.id)),
        (f"/api/exams/{exam_id}/tickets", "ticket_no", select(Participant.ticket_no).where(of_exam)),
        ("/api/exams", "id", select(Exam.id)),
        (f"/api/exams/{exam_id}/participants", "cadre_id", select(Participant.cadre_id).where(of_exam)),
        (f"/api/exams/{exam_id}/absences", "cadre_id", select(Absence.cadre_id).where(Absence.exam_id == exam_id)),
        (f"/api/exams/{exam_id}/incidents", "id", select(Incident.id).where(Incident.exam_id == exam_id)),
        (f"/api/exams/{exam_id}/tickets/places", "ticket_no", select(Participant.ticket_no).where(of_exam)),
        ("/api/blueprints", "id", select(Blueprint.id)),
        ("/api/users", "id", select(User.id)),
        ("/api/audit", "id", select(AuditEntry.id)),
    ]  # fmt: skip


def _page(response: httpx2.Response) -> tuple[list[dict[str, Any]], int]:
    assert response.status_code == 200, response.text
    body = response.json()
    if isinstance(body, list):
        return body, int(response.headers[TOTAL_COUNT_HEADER])
    assert TOTAL_COUNT_HEADER not in response.headers
    return body["items"], body["total"]


async def _walk(client: httpx2.AsyncClient, url: str, headers: dict[str, str], limit: int) -> tuple[list[Any], int]:
    """Every key of the list, read `limit` rows at a time, and the total every page stated."""
    keys: list[Any] = []
    totals = set()
    while True:
        response = await client.get(url, params={"limit": limit, "offset": len(keys)}, headers=headers)
        items, total = _page(response)
        totals.add(total)
        assert len(items) <= limit
        if not items:
            break
        keys.extend(items)
    assert len(totals) == 1, (url, totals)
    return keys, totals.pop()


async def test_paging_through_every_list_gives_every_row_once_and_the_sql_total(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    r = await _round(client, session)
    for url, key, expected in _routes(r):
        wanted = list((await session.scalars(expected)).all())
        assert len(wanted) >= 3, url
        rows, total = await _walk(client, url, r.admin, limit=2)
        keys = [row[key] for row in rows]
        assert len(keys) == len(set(keys)), (url, "a row came twice")
        assert set(keys) == set(wanted) and total == len(wanted), url
        whole, whole_total = _page(await client.get(url, params={"limit": MAX_LIMIT}, headers=r.admin))
        assert [row[key] for row in whole] == keys and whole_total == total, (url, "pages follow the list's order")
        beyond, beyond_total = _page(await client.get(url, params={"offset": total}, headers=r.admin))
        assert beyond == [] and beyond_total == total, url


async def test_the_contract_lists_are_unchanged_without_parameters(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit = await make_unit(session)
    for _ in range(DEFAULT_LIMIT + 3):
        await make_cadre(session, unit)
    admin = await headers_for(session, Role.admin)
    response = await client.get(f"/api/units/{unit.id}/cadres", headers=admin)
    cadres, total = _page(response)
    assert isinstance(response.json(), list) and len(cadres) == total == DEFAULT_LIMIT + 3
    assert [c["id"] for c in cadres] == sorted(c["id"] for c in cadres)
    units = (await client.get("/api/units", headers=admin)).json()
    assert [u["code"] for u in units] == sorted(u["code"] for u in units)
    exams = (await client.get("/api/exams", headers=admin)).json()
    assert set(exams) == {"items", "total"}


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), (f"limit={MAX_LIMIT + 1}", "limit"), ("limit=-5", "limit"), ("offset=-1", "offset")],
)
async def test_out_of_range_paging_is_a_422_naming_the_field_in_chinese(
    client: httpx2.AsyncClient, session: AsyncSession, query: str, field: str
) -> None:
    r = await _round(client, session)
    unit_id = r.own.id
    urls = [url for url, _key, _sql in _routes(r)] + ["/api/questions", f"/api/units/{unit_id}/missed-points"]
    for url in urls:
        response = await client.get(f"{url}?{query}", headers=r.admin)
        assert response.status_code == 422, (url, response.text)
        [error] = response.json()["detail"]
        assert error["loc"] == ["query", field], url
        assert any("\u4e00" <= ch <= "\u9fff" for ch in error["msg"]), error


async def test_a_unit_admin_pages_through_his_own_unit_only_and_the_total_counts_only_those(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    r = await _round(client, session)
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=r.own.id)
    exam_id = r.exam.id
    scoped = [  # url, the own unit's rows, every unit's rows
        (f"/api/exams/{exam_id}/tickets", 7, 12),
        (f"/api/exams/{exam_id}/participants", 7, 12),
        (f"/api/exams/{exam_id}/absences", 3, 5),
        (f"/api/exams/{exam_id}/incidents", 4, 7),
        (f"/api/units/{r.own.id}/cadres", 7, 7),
    ]
    for url, own_rows, all_rows in scoped:
        rows, total = await _walk(client, url, unit_admin, limit=2)
        assert total == own_rows and len(rows) == own_rows, url
        assert {row["unit_id"] for row in rows} == {r.own.id}, url
        assert (await _walk(client, url, r.admin, limit=2))[1] == all_rows, url
    assert (await client.get(f"/api/units/{r.other.id}/cadres?limit=2", headers=unit_admin)).status_code == 403
    exams, total = await _walk(client, "/api/exams", unit_admin, limit=1)
    assert [e["id"] for e in exams] == [exam_id] and total == 1


def test_a_page_needs_an_order() -> None:
    with pytest.raises(ValueError, match="order_by"):
        page_of(select(Unit.id), Page(limit=5))
    assert page_of(select(Unit.id).order_by(Unit.id), Page(limit=5, offset=10)) is not None


async def test_openapi_every_growing_list_is_paged(client: httpx2.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        ok = get["responses"].get("200", {})
        schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
        names = {p["name"] for p in get.get("parameters", []) if p["in"] == "query"}
        paged = schema.get("$ref", "").startswith("#/components/schemas/Paged_")
        if schema.get("type") == "array":
            assert path in CONTRACT_LISTS | BOUNDED_LISTS, f"{path} lists without paging"
        if path in CONTRACT_LISTS:
            assert {"limit", "offset"} <= names and TOTAL_COUNT_HEADER in ok.get("headers", {}), path
        if paged:
            assert {"limit", "offset"} <= names, path
            limit = next(p for p in get["parameters"] if p["name"] == "limit")
            assert limit["schema"]["maximum"] == MAX_LIMIT and limit["schema"]["default"] == DEFAULT_LIMIT, path
