"""Browser tests: a real exambank server on a free port with its own database, and headless Debian chromium.

The server runs uvicorn in a background thread against a fresh SQLite file (or a fresh PostgreSQL database
when EXAMBANK_TEST_DATABASE_URL names one); data is seeded through the HTTP API like a real organiser would.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
import uvicorn
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.migrate import upgrade_database
from app.demo.loader import DEMO_PASSWORD, load_demo
from app.main import create_app
from tests.conftest import TEST_SECRET, _create_postgres_database, _drop_postgres_database

T = TypeVar("T")
CHROMIUM = Path(os.environ.get("EXAMBANK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ADMIN_USERNAME = "webadmin"
ADMIN_PASSWORD = "web-admin-password-1"
# Accounts of the demo data set (app/demo): organiser (+proctor), supervisor, proctor, editor, unitadmin-<code>.
DEMO_PASSWORD_FOR_TESTS = DEMO_PASSWORD
# The committed pictures are refreshed only on request (EXAMBANK_SCREENSHOTS=1), so a test run leaves the tree clean.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("EXAMBANK_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "exambank-screenshots"
)


def _in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking set-up in a thread of its own: Playwright's sync API keeps an event loop running here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("EXAMBANK_TEST_DATABASE_URL")
    if configured and make_url(configured).get_backend_name() in {"postgresql", "postgres"}:
        url = _in_thread(asyncio.run, _create_postgres_database(configured))
        _in_thread(upgrade_database, url)
        yield url
        _in_thread(asyncio.run, _drop_postgres_database(configured, url))
        return
    url = f"sqlite:///{tmp_path_factory.mktemp('webdb') / 'exambank-web.db'}"
    _in_thread(upgrade_database, url)
    yield url


@pytest.fixture(scope="session")
def live_server(live_database_url: str) -> Iterator[str]:
    """The base URL of a running exambank server (uvicorn in a thread, sweeper on)."""
    settings = Settings(
        environment="test", database_url=live_database_url, secret_key=TEST_SECRET,
        admin_username=ADMIN_USERNAME, admin_password=ADMIN_PASSWORD, run_sweeper=True, sweep_interval_seconds=1.0,
        log_level="WARNING",
    )  # fmt: skip
    # The demo data set gives realistic units, rosters, questions and accounts for every role.
    _in_thread(asyncio.run, load_demo(settings))
    port = _free_port()
    # Idle connections are kept for the whole run: at uvicorn's 5 s a test's client could reuse one at the
    # moment the server closes it (a connection reset under load, nothing the product does).
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on",
        timeout_keep_alive=3600,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="exambank-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the exambank test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="session")
def admin_api(live_server: str) -> Iterator[httpx2.Client]:
    """An HTTP client logged in as the bootstrap administrator (all roles)."""
    with httpx2.Client(base_url=live_server, timeout=30) as http:
        reply = http.post("/api/auth/login", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
        reply.raise_for_status()
        http.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"
        yield http


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is started, and
# fixtures of other modules (the shared ``database_url``) call ``asyncio.run`` on it.
@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: the browser tests must run in CI")
        pytest.skip(f"{CHROMIUM} is not installed; the browser tests need Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class ConsoleErrors(list[str]):
    """Console errors and uncaught exceptions seen by a page."""


@pytest.fixture
def new_page(chromium_browser: Any, live_server: str) -> Iterator[Any]:
    """A factory of pages in fresh browser contexts (own cookies and storage); each page records JS errors."""
    contexts: list[Any] = []

    def make(width: int = 1366, height: int = 768) -> Any:
        context = chromium_browser.new_context(
            base_url=live_server, viewport={"width": width, "height": height}, locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )  # fmt: skip
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        errors = ConsoleErrors()
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        page.failed_responses = failed = []
        page.on("response", lambda reply: failed.append(f"{reply.status} {reply.url}") if reply.status >= 400 else None)
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    """Save a screenshot (under docs/screenshots/ when EXAMBANK_SCREENSHOTS is set)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def login(page: Any, username: str, password: str, *, staff: bool = False) -> None:
    page.goto("/login")
    if staff:
        page.get_by_role("tab", name="工作人员").click()
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)


# The live server shares the test process's warning filters; SQLAlchemy 2.1 deprecates ``Result.tuples()``,
# which other domains still call. Tolerate only that one warning here (the domains' own tests still see it).
TOLERATED_SERVER_WARNINGS = ("ignore:The Result.tuples\\(\\) method is deprecated",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser"):
            for spec in TOLERATED_SERVER_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


UNLABELLED_CONTROLS_JS = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(el => el.type !== 'hidden' && el.getClientRects().length > 0)
    .filter(el => !(el.labels && el.labels.length))
    .filter(el => !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map(el => el.outerHTML.slice(0, 120))"""


def assert_controls_labelled(page: Any) -> None:
    """Every visible form control has a label (or an aria-label): the accessibility basics of the pages."""
    unlabelled = page.evaluate(UNLABELLED_CONTROLS_JS)
    assert unlabelled == [], unlabelled
