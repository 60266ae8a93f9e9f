"""Blueprints over HTTP: create, list, get, presets, preview, refusals and who may do what."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.factories import headers_for, make_unit

PRESET_BODY: dict[str, Any] = {
    "name": "基本理论+ 2026",
    "time_limit_seconds": 1800,
    "sections": [
        {"type": "single", "count": 20, "points": 2},
        {"type": "multiple", "count": 10, "points": 3},
        {"type": "judge", "count": 15, "points": 2},
    ],
    "category_split": {"theory": 40, "law": 20, "policy": 40},
}


def quota_map(body: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(q["type"], q["category"]): q["count"] for q in body["quotas"]}


async def test_create_blueprint_returns_the_quota_table(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.organiser)
    response = await client.post("/api/blueprints", json=PRESET_BODY, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["total_questions"] == 45
    assert body["total_points"] == 100
    assert body["multiple_scoring"] == "all_or_nothing"
    assert quota_map(body) == {
        ("single", "theory"): 8,
        ("single", "law"): 4,
        ("single", "policy"): 8,
        ("multiple", "theory"): 4,
        ("multiple", "law"): 2,
        ("multiple", "policy"): 4,
        ("judge", "theory"): 6,
        ("judge", "law"): 3,
        ("judge", "policy"): 6,
    }
    assert body["rounded"] is False and body["rounding_note"] is None
    fetched = await client.get(f"/api/blueprints/{body['id']}", headers=headers)
    assert fetched.status_code == 200 and fetched.json()["quotas"] == body["quotas"]
    listed = await client.get("/api/blueprints", headers=headers)
    assert body["id"] in [b["id"] for b in listed.json()["items"]]


async def test_presets_list_the_jiben_lilun_plus_blueprint(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.organiser)
    response = await client.get("/api/blueprints/presets", headers=headers)
    assert response.status_code == 200, response.text
    [preset] = response.json()
    assert preset["name"] == "基本理论+"
    assert (preset["total_questions"], preset["total_points"], preset["time_limit_seconds"]) == (45, 100, 1800)
    assert quota_map(preset)[("judge", "law")] == 3
    assert preset["blueprint_id"] is None
    stored = await client.post(f"/api/blueprints/presets/{preset['key']}", headers=headers)
    assert stored.status_code == 200, stored.text
    again = await client.post(f"/api/blueprints/presets/{preset['key']}", headers=headers)
    assert again.json()["id"] == stored.json()["id"] and stored.json()["is_preset"] is True
    listed = (await client.get("/api/blueprints/presets", headers=headers)).json()
    assert listed[0]["blueprint_id"] == stored.json()["id"]


async def test_preview_reports_rounding_without_saving(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.organiser)
    before = (await client.get("/api/blueprints", headers=headers)).json()["total"]
    body = {
        **PRESET_BODY,
        "sections": [{"type": "single", "count": 7, "points": 10}, {"type": "judge", "count": 6, "points": 5}],
    }
    response = await client.post("/api/blueprints/preview", json=body, headers=headers)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert quota_map(preview)[("single", "theory")] == 3 and quota_map(preview)[("single", "law")] == 1
    assert preview["rounded"] is True and "最大余数法" in preview["rounding_note"]
    assert preview["total_points"] == 100
    assert (await client.get("/api/blueprints", headers=headers)).json()["total"] == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category_split": {"theory": 40, "law": 20, "policy": 30}}, ["body", "category_split"]),
        ({"category_split": {"theory": 60, "law": -20, "policy": 60}}, ["body", "category_split", "law"]),
        ({"sections": [{"type": "single", "count": 0, "points": 2}]}, ["body", "sections", 0, "count"]),
        ({"sections": [{"type": "single", "count": 5, "points": 0}]}, ["body", "sections", 0, "points"]),
        (
            {"sections": [{"type": "single", "count": 5, "points": 2}, {"type": "single", "count": 5, "points": 2}]},
            ["body", "sections", 1, "type"],
        ),
        ({"sections": []}, ["body", "sections"]),
        ({"time_limit_seconds": -5}, ["body", "time_limit_seconds"]),
        ({"total_points": 90}, ["body", "total_points"]),
    ],
)
async def test_impossible_blueprints_are_refused_naming_the_field(
    client: httpx2.AsyncClient, session: AsyncSession, change: dict[str, Any], field: list[Any]
) -> None:
    headers = await headers_for(session, Role.organiser)
    response = await client.post("/api/blueprints", json={**PRESET_BODY, **change}, headers=headers)
    assert response.status_code == 422, response.text
    locations = [item["loc"] for item in response.json()["detail"]]
    assert field in locations
    preview = await client.post("/api/blueprints/preview", json={**PRESET_BODY, **change}, headers=headers)
    assert preview.status_code == 422


async def test_partial_scoring_is_kept(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.organiser)
    body = {**PRESET_BODY, "multiple_scoring": "partial"}
    response = await client.post("/api/blueprints", json=body, headers=headers)
    assert response.status_code == 201 and response.json()["multiple_scoring"] == "partial"


async def test_who_may_define_blueprints(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=unit.id)
    assert (await client.post("/api/blueprints", json=PRESET_BODY, headers=unit_admin)).status_code == 201
    for role in (Role.examinee, Role.proctor, Role.supervisor, Role.bank_editor):
        headers = await headers_for(session, role)
        response = await client.post("/api/blueprints", json=PRESET_BODY, headers=headers)
        assert response.status_code == 403, (role, response.text)
    examinee = await headers_for(session, Role.examinee)
    assert (await client.get("/api/blueprints", headers=examinee)).status_code == 403
    assert (await client.get("/api/blueprints")).status_code == 401
