"""Hostile input gets a clear 4xx before any database call, never a 500; cross-site and anonymous
uploads are refused before they are read; every response carries the security headers."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import AuthSession, Role, User
from app.core.config import Settings
from app.core.db import Database
from app.core.security import hash_pin, safe_next_path
from app.exams.models import Exam
from tests.conftest import TEST_SECRET
from tests.factories import headers_for, make_unit, make_user, unique
from tests.reports.factories_reports import make_exam

BIG_IDS = (2**31, 2**63, 10**30)


async def ticket_holder(session: AsyncSession, pin: str) -> User:
    user = User(username=unique("0001-001-"), password_hash=hash_pin(pin, TEST_SECRET), roles=["examinee"])
    session.add(user)
    await session.commit()
    return user


async def test_anonymous_callers_never_learn_which_ids_exist(app: Any, client: httpx2.AsyncClient) -> None:
    """Every API route with a path parameter answers 401 to an anonymous caller, for an id that exists or not."""
    checked = 0
    for template, operations in app.openapi()["paths"].items():
        if not template.startswith("/api/") or "{" not in template:
            continue
        path = re.sub(r"\{\w+\}", "987654", template)
        for method in operations:
            response = await client.request(method.upper(), path)
            assert response.status_code == 401, (method, template, response.status_code, response.text)
            checked += 1
    assert checked > 40


@pytest.mark.parametrize("big", BIG_IDS)
async def test_ids_no_row_can_have_are_not_found(client: httpx2.AsyncClient, session: AsyncSession, big: int) -> None:
    admin = await headers_for(session, Role.admin)
    for path in (f"/api/exams/{big}", f"/api/questions/{big}", f"/api/units/{big}/cadres", f"/api/attempts/{big}"):
        response = await client.get(path, headers=admin)
        assert response.status_code == 404, (path, response.text)
    put = await client.put(f"/api/attempts/{big}/answers", json={"seq": 1, "answers": {}}, headers=admin)
    assert put.status_code == 404
    unit = await make_unit(session)
    for params in ({"unit_id": big}, {"limit": 10, "offset": big}):
        listed = await client.get("/api/questions", params=params, headers=admin)
        assert listed.status_code == 422, listed.text
        assert listed.json()["detail"][0]["loc"] == ["query", next(iter(params)) if "unit_id" in params else "offset"]
    body = await client.post(f"/api/units/{unit.id}/cadres", json={"name": "张三", "rank": "ke", "employee_no": "1"},
                             headers=admin)  # fmt: skip
    assert body.status_code == 201
    exam = await client.post("/api/exams", json={"name": "考试", "blueprint_id": big, "mode": "formal",
                                                 "unit_ids": [unit.id]}, headers=admin)  # fmt: skip
    assert exam.status_code in (404, 422), exam.text


@pytest.mark.parametrize(
    ("text", "message"), [("a\u0000b", "空字符"), ("\ud800", "Unicode")], ids=["nul", "lone-surrogate"]
)
async def test_nul_and_lone_surrogates_are_refused_naming_the_field(
    client: httpx2.AsyncClient, session: AsyncSession, text: str, message: str
) -> None:
    admin = await headers_for(session, Role.admin)
    before = await session.scalar(select(func.count()).select_from(User))
    body = json.dumps({"username": text, "password": "secret-pass"})  # ASCII escapes, as most clients send
    login = await client.post("/api/auth/login", content=body, headers={"content-type": "application/json"})
    assert login.status_code == 422, login.text
    assert login.json()["detail"][0]["loc"] == ["body", "username"] and message in login.json()["detail"][0]["msg"]

    unit = json.dumps({"code": unique("U"), "name": "单位", "headcount": 3, "tags": [{"deep": text}]})
    created = await client.post("/api/units", content=unit.replace('"tags"', '"x"'),
                                headers={**admin, "content-type": "application/json"})  # fmt: skip
    assert created.status_code == 422 and created.json()["detail"][0]["loc"] == ["body", "x", "0", "deep"]

    searched = await client.get("/api/questions?q=a%00b", headers=admin)
    assert searched.status_code == 422 and searched.json()["detail"][0]["loc"] == ["query", "q"]
    in_path = await client.post("/api/exams/1/tickets/a%00b/unlock", headers=admin)
    assert in_path.status_code == 422 and in_path.json()["detail"][0]["loc"] == ["path"]
    assert await session.scalar(select(func.count()).select_from(User)) == before


async def test_a_body_that_is_not_utf8_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.post("/api/auth/login", content=b'{"username": "\xed\xa0\x80", "password": "x"}',
                                 headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 422


async def test_validation_errors_do_not_echo_the_input(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    admin = await headers_for(session, Role.admin)
    huge = "长" * 200_000
    response = await client.post("/api/units", json={"code": huge, "name": "单位", "headcount": huge}, headers=admin)
    assert response.status_code == 422
    assert len(response.content) < 4_000 and "长长长" not in response.text


async def test_an_anonymous_upload_is_refused_before_it_is_read(client: httpx2.AsyncClient) -> None:
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for _ in range(200):  # 200 MB if it were read in full
            sent.append(1)
            yield b"x" * 1_000_000

    response = await client.post(
        "/api/questions/import", content=body(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 401
    assert len(sent) <= 1


async def test_bodies_are_json_or_uploads_and_the_lane_takes_only_json(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    user = await ticket_holder(session, "112233")
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = await client.post(
            "/api/auth/login",
            content=json.dumps({"username": user.username, "password": "112233"}),
            headers={"content-type": content_type},
        )
        assert response.status_code == 415, response.text
    opened = await session.scalar(select(func.count()).select_from(AuthSession).where(AuthSession.user_id == user.id))
    assert opened == 0
    ok = await client.post("/api/auth/login", json={"username": user.username, "password": "112233"})
    assert ok.status_code == 200


async def test_a_cross_site_state_change_is_refused(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    exam = await make_exam(session, [unit])
    exam.status = "drawn"
    await session.commit()
    organiser = await make_user(session, Role.organiser)
    credentials = {"username": organiser.username, "password": "correct horse battery"}
    login = await client.post("/api/auth/login", json=credentials)
    assert login.status_code == 200
    close = f"/api/exams/{exam.id}/close"
    for evil in ({"origin": "https://evil.example"}, {"origin": "null"}, {"sec-fetch-site": "cross-site"}):
        refused = await client.post(close, headers=evil)  # the session cookie goes along
        assert refused.status_code == 403, refused.text
        assert "其他站点" in refused.json()["detail"]
    assert await session.scalar(select(Exam.status).where(Exam.id == exam.id)) == "drawn"
    same = await client.post(close, headers={"origin": "http://exambank.test", "sec-fetch-site": "same-origin"})
    assert same.status_code == 200, same.text


async def test_every_response_carries_the_security_headers(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    user = await ticket_holder(session, "445566")
    replies = [
        await client.get("/login"),
        await client.get("/api/health"),
        await client.get("/api/exams/1"),
        await client.post("/api/auth/login", json={"username": user.username, "password": "445566"}),  # the lane
    ]
    for reply in replies:
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "same-origin"
        assert len(reply.headers.get_list("content-security-policy")) == 1
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
    page, *resources = replies
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for reply in resources:  # JSON loads nothing
        assert reply.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    static = await client.get("/static/css/app.css")
    assert static.status_code == 200, static.text
    assert static.headers.get_list("x-content-type-options") == ["nosniff"]  # set by the route, not twice


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/exams/3?x=1", "/exams/3?x=1"), ("/\t/evil.example", ""), ("//evil.example", ""), ("/\\evil.example", ""),
     ("https://evil.example", ""), ("/\n/evil.example", ""), ("evil.example", "")],
)  # fmt: skip
def test_safe_next_path(target: str, safe: str) -> None:
    assert safe_next_path(target) == safe


async def test_the_login_page_never_sends_you_off_site(client: httpx2.AsyncClient) -> None:
    response = await client.get("/login?next=/%09/evil.example")
    assert response.status_code == 200 and "evil.example" not in response.text
    kept = await client.get("/login?next=/dashboard")
    assert "/dashboard" in kept.text


def test_a_settings_error_never_prints_the_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMBANK_ENVIRONMENT", "production")
    monkeypatch.setenv("EXAMBANK_ADMIN_PASSWORD", "Adm1n-Pa55word-xyz")
    monkeypatch.setenv("EXAMBANK_DB_POOL_SIZE", "not-a-number-Adm1n")
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert "Adm1n" not in str(raised.value) and "db_pool_size" in str(raised.value)


@pytest.mark.parametrize(("enabled", "status"), [(False, 404), (True, 200)])
async def test_docs_are_off_in_production_unless_enabled(database: Database, enabled: bool, status: int) -> None:
    from app.main import create_app

    settings = Settings(environment="production", secret_key="p" * 40, docs_enabled=enabled, database_url="sqlite://")
    app = create_app(settings, database=database, background=False)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://exambank.test") as http:
        for path in ("/docs", "/openapi.json"):
            assert (await http.get(path)).status_code == status


def test_the_integer_query_parameters_are_those_the_openapi_document_lists(app: Any) -> None:
    """The guard reads them off the routes (no OpenAPI build per application); every integer query
    parameter the document lists is among them (the rest belong to pages, which the document leaves out)."""
    from app.core.openapi import integer_query_parameters

    documented = set()
    for operations in app.openapi()["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                types = {schema.get("type"), *(option.get("type") for option in schema.get("anyOf", []))}
                if parameter.get("in") == "query" and "integer" in types:
                    documented.add(parameter["name"])
    assert documented and documented <= integer_query_parameters(app)


async def test_numbers_of_thousands_of_digits_are_refused_naming_the_field(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    """Python will not convert an integer of more than 4,300 digits: such a number is a 404 in the path and
    a 422 naming the field in the query and in a JSON body (the lane's routes too), never a 500 or 400."""
    admin = await headers_for(session, Role.admin)
    huge = "9" * 5000
    assert (await client.get(f"/api/exams/{huge}", headers=admin)).status_code == 404
    listed = await client.get(f"/api/questions?limit={huge}", headers=admin)
    assert listed.status_code == 422 and listed.json()["detail"][0]["loc"] == ["query", "limit"], listed.text
    json_headers = {**admin, "content-type": "application/json"}
    for method, path, body, field in (
        ("POST", "/api/units", '{"code": "H1", "name": "单位", "headcount": %s}', "headcount"),
        ("PUT", "/api/attempts/1/answers", '{"seq": %s, "answers": {}}', "seq"),
        ("POST", "/api/exams", '{"name": "考试", "blueprint_id": 1, "mode": "formal", "unit_ids": [%s]}', "unit_ids"),
    ):
        reply = await client.request(method, path, content=body % huge, headers=json_headers)
        assert reply.status_code == 422, (path, reply.text)
        assert reply.json()["detail"][0]["loc"][:2] == ["body", field], reply.text
        assert "超出允许范围" in reply.json()["detail"][0]["msg"]
