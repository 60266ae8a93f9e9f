"""Readiness and the Prometheus metrics: what a proxy and the people watching an exam read."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from app.operations import expected_schema_revisions
from tests.exams.factories_attempts import make_exam_setup, path_start

GRACE = 10  # settings.save_grace_seconds


def sample(exposition: str, name: str, **labels: str) -> float:
    """One sample's value in a Prometheus text exposition (0 when absent)."""
    for family in text_string_to_metric_families(exposition):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


async def scrape(client: httpx2.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@pytest.fixture
async def app_client(settings: Settings, database: Database, clock: FrozenClock) -> AsyncIterator[httpx2.AsyncClient]:
    """A client of an app started as a server starts it (its lifespan runs), each request in its own session."""
    application = create_app(settings, database=database, clock=clock, background=False)
    transport = httpx2.ASGITransport(app=application)
    async with (
        application.router.lifespan_context(application),
        httpx2.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        yield http


async def test_ready_when_the_database_answers_at_this_codes_schema(client: httpx2.AsyncClient) -> None:
    response = await client.get("/api/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "schema": sorted(expected_schema_revisions())}


async def test_not_ready_on_a_schema_other_than_this_codes(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    await session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = await client.get("/api/ready")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["code"] == "schema_not_current"
    assert "0001" in body["detail"] and "exambank migrate" in body["detail"]


async def test_not_ready_when_the_database_cannot_be_reached(
    settings: Settings, clock: FrozenClock, tmp_path: object, is_postgres: bool
) -> None:
    if is_postgres:
        # Nothing listens there (a port of this project's own range): the connection is refused.
        url = make_url(os.environ["EXAMBANK_TEST_DATABASE_URL"]).set(port=18499).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path}/no/such/directory/exambank.db"
    database = Database(url, pool_size=1)
    application = create_app(settings, database=database, clock=clock, background=False)
    try:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=application), base_url="http://t") as http:
            response = await http.get("/api/ready")
    finally:
        await database.dispose()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "database_unavailable"
    assert response.json()["detail"].startswith("数据库无法访问")


async def test_requests_are_counted_by_route_status_and_the_layer_that_answered(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    save_route = {"method": "PUT", "route": "/api/attempts/{attempt_id}/answers"}
    before = await scrape(client)

    start = await client.post(path_start(setup), headers=examinee.headers)
    assert start.status_code == 200
    attempt_id = start.json()["attempt_id"]
    saved = await client.put(
        f"/api/attempts/{attempt_id}/answers", json={"seq": 1, "answers": {"1": ["A"]}}, headers=examinee.headers
    )
    assert saved.status_code == 200
    bad = await client.put(f"/api/attempts/{attempt_id}/answers", json={"seq": "x"}, headers=examinee.headers)
    assert bad.status_code == 422
    submitted = await client.post(f"/api/attempts/{attempt_id}/submit", headers=examinee.headers)
    assert submitted.status_code == 200
    assert (await client.get(f"/api/attempts/{attempt_id}", headers=examinee.headers)).status_code == 200
    assert (await client.get("/no/such/path/12345")).status_code == 404
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    # The valid save was settled by the lane; the invalid one fell through to the route, which explained it.
    assert grew("exambank_http_requests_total", **save_route, status="200", served_by="lane") == 1
    assert grew("exambank_http_requests_total", **save_route, status="422", served_by="app") == 1
    assert grew("exambank_http_requests_total", method="POST", route="/api/exams/{exam_id}/attempts", status="200") == 1
    assert grew("exambank_http_requests_total", method="GET", route="/api/attempts/{attempt_id}", status="200") == 1
    assert grew("exambank_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert grew("exambank_http_request_duration_seconds_count", **save_route) == 2
    assert grew("exambank_answer_saves_total", status="200") == 1
    assert grew("exambank_answer_saves_total", status="422") == 1
    assert grew("exambank_submits_total", reason="examinee") == 1
    # No path of its own per attempt: the label is the route's template.
    assert f"/api/attempts/{attempt_id}" not in after


async def test_sweeper_lag_is_how_long_the_most_overdue_attempt_waits(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=2, time_limit_seconds=600, now=clock.now())
    for examinee in setup.examinees:
        assert (await client.post(path_start(setup), headers=examinee.headers)).status_code == 200
    in_progress = sample(await scrape(client), "exambank_attempts_in_progress")
    assert in_progress >= 2
    assert sample(await scrape(client), "exambank_sweeper_lag_seconds") == 0

    clock.advance(seconds=600 + GRACE + 7)  # no sweeper runs here: both attempts are overdue by 7 s
    exposition = await scrape(client)
    assert sample(exposition, "exambank_sweeper_lag_seconds") == 7
    assert sample(exposition, "exambank_attempts_in_progress") == in_progress


async def test_pool_use_is_reported(app_client: httpx2.AsyncClient, database: Database) -> None:
    assert (await app_client.get("/api/health")).status_code == 200
    exposition = await scrape(app_client)
    assert sample(exposition, "exambank_db_pool_size") >= database.engine.sync_engine.pool.size()
    # The scrape's own session holds a connection from reading the database's figures until it ends.
    assert sample(exposition, "exambank_db_pool_checked_out") >= 1
