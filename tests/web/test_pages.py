"""Page shells, landing by role, static files and the no-CDN rule (plain HTTP, no browser)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.dependencies import SESSION_COOKIE
from app.accounts.models import Role
from tests.factories import headers_for

WEB = Path(__file__).resolve().parents[2] / "app" / "web"


async def _cookie_for(session: AsyncSession, *roles: Role) -> dict[str, str]:
    token = (await headers_for(session, *roles))["Authorization"].removeprefix("Bearer ")
    return {SESSION_COOKIE: token}


async def test_anonymous_visitors_are_sent_to_the_login_page(client: httpx2.AsyncClient) -> None:
    reply = await client.get("/")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login"
    reply = await client.get("/console/bank")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login?next=/console/bank"
    login = await client.get("/login")
    assert login.status_code == 200
    assert '<html lang="zh-CN">' in login.text


@pytest.mark.parametrize("next_url", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/"])
async def test_the_login_page_only_returns_to_this_site(client: httpx2.AsyncClient, next_url: str) -> None:
    reply = await client.get("/login", params={"next": next_url})
    assert "evil.example" not in reply.text


async def test_the_login_page_escapes_its_return_path(client: httpx2.AsyncClient) -> None:
    reply = await client.get("/login", params={"next": "/exam');alert(1);('"})
    assert "');alert(1)" not in reply.text
    assert "alert(1)" in reply.text  # kept, but only as an escaped string


@pytest.mark.parametrize(
    ("role", "home"),
    [
        (Role.examinee, "/exam"),
        (Role.organiser, "/console"),
        (Role.bank_editor, "/console/bank"),
        (Role.supervisor, "/dashboard"),
        (Role.proctor, "/console/proctor"),
        (Role.unit_admin, "/dashboard"),
    ],
)
async def test_the_landing_page_routes_users_by_role(
    client: httpx2.AsyncClient, session: AsyncSession, role: Role, home: str
) -> None:
    client.cookies.update(await _cookie_for(session, role))
    reply = await client.get("/")
    assert reply.status_code == 303
    assert reply.headers["location"] == home


async def test_an_examinee_cannot_open_the_console(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    client.cookies.update(await _cookie_for(session, Role.examinee))
    reply = await client.get("/console/bank")
    assert reply.status_code == 403
    assert "无权访问" in reply.text
    exam = await client.get("/exam")
    assert exam.status_code == 200
    assert "没有找到您的考试" in exam.text


async def test_staff_pages_render_for_their_roles(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    client.cookies.update(await _cookie_for(session, Role.organiser, Role.supervisor))
    for path in (
        "/console", "/console/partials/exams",
        "/console/bank", "/console/units", "/console/blueprints", "/console/exams", "/console/exams/new",
        "/console/exams/1", "/console/exams/1/tickets", "/console/exams/1/monitor", "/console/proctor?exam_id=1",
        "/dashboard", "/dashboard/exams/1", "/dashboard/exams/1/notice",
    ):  # fmt: skip
        reply = await client.get(path)
        assert reply.status_code == 200, path
        assert reply.headers["cache-control"] == "no-store"
        assert "partials" in path or 'lang="zh-CN"' in reply.text


async def test_static_files_are_served_with_types_and_cache_headers(client: httpx2.AsyncClient) -> None:
    css = await client.get("/static/css/app.css?v=abc")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "immutable" in css.headers["cache-control"]
    js = await client.get("/static/vendor/alpinejs/alpine.min.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert "immutable" not in js.headers["cache-control"]
    for path in ("/static/..%2frouter.py", "/static/%2e%2e/router.py", "/static/../router.py", "/static/nope.css"):
        assert (await client.get(path)).status_code == 404, path


async def test_pages_link_versioned_static_files(client: httpx2.AsyncClient) -> None:
    login = await client.get("/login")
    assert re.search(r'href="/static/css/app\.css\?v=[0-9a-f]{10}"', login.text)
    assert re.search(r'src="/static/vendor/alpinejs/alpine\.min\.js\?v=[0-9a-f]{10}"', login.text)


def test_no_page_loads_anything_from_another_site() -> None:
    own = [*WEB.joinpath("templates").rglob("*.html"), *WEB.joinpath("static", "js").glob("*.js"),
           *WEB.joinpath("static", "css").glob("*.css")]  # fmt: skip
    for path in own:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["'](https?:)?//""", text), path
        assert "@import" not in text and "url(http" not in text, path


def test_vendored_packages_are_recorded_with_their_licences() -> None:
    vendor = WEB / "static" / "vendor"
    versions = (vendor / "VERSIONS.txt").read_text(encoding="utf-8")
    for package, file in (
        ("htmx.org", "htmx/htmx.min.js"), ("alpinejs", "alpinejs/alpine.min.js"),
        ("echarts", "echarts/echarts.common.min.js"),
    ):  # fmt: skip
        assert package in versions and file in versions
        assert (vendor / file).is_file()
        assert (vendor / file).parent.joinpath("LICENSE").is_file()


def test_the_exam_room_own_code_stays_small() -> None:
    own = [WEB / "static" / "js" / "exam.js", WEB / "static" / "js" / "common.js", WEB / "static" / "css" / "app.css"]
    # ~36 kB with the deadline-offline state, the font-size control and the Chinese field / validation names
    # (about 10 kB over the wire, gzipped): still far below one vendored library.
    assert sum(path.stat().st_size for path in own) < 40_000
