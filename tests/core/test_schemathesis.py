"""Schemathesis over the OpenAPI document, against a real server (uvicorn on 127.0.0.1, the run's
backend, the lane in front): a bounded number of valid and invalid examples of every operation, sent
by an authenticated administrator, and not one server error."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode

from app.core.config import Settings
from app.main import create_app
from tests.conftest import TEST_SECRET

EXAMPLES = 4  # per operation and generation mode: ~700 requests in all
PORTS = range(18240, 18300)
ADMIN, PASSWORD = "fuzz-admin", "fuzz-admin-password"
# Operations that end the caller's own session or change his password: fuzzed, they would only lock
# the fuzzer out (each has its own tests).
SKIPPED = {("POST", "/api/auth/logout"), ("POST", "/api/auth/password"), ("POST", "/api/users/{user_id}/password")}


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18240-18299")


@dataclass
class Served:
    base_url: str
    app: object


@pytest.fixture
def served(committed_database_url: str) -> Iterator[Served]:
    settings = Settings(
        environment="test", database_url=committed_database_url, secret_key=TEST_SECRET, run_sweeper=False,
        admin_username=ADMIN, admin_password=PASSWORD, log_level="WARNING",
    )  # fmt: skip
    app = create_app(settings, background=False)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield Served(base_url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _login(http: requests.Session, base_url: str) -> dict[str, str]:
    reply = http.post(f"{base_url}/api/auth/login", json={"username": ADMIN, "password": PASSWORD}, timeout=30)
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def test_no_server_error_from_any_operation(served: Served) -> None:
    schema = schemathesis.openapi.from_dict(served.app.openapi())  # type: ignore[attr-defined]
    http = requests.Session()
    auth = _login(http, served.base_url)
    errors: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis.settings(
                max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
            )  # fmt: skip
            def run(case: schemathesis.Case) -> None:
                nonlocal auth
                response = case.call(base_url=served.base_url, session=http, headers=auth, timeout=60)
                if response.status_code == 401:
                    auth = _login(http, served.base_url)  # a fuzzed call revoked the session (a password reset)
                if response.status_code >= 500:
                    errors.append(f"{case.method} {case.formatted_path} → {response.status_code}: "
                                  f"{case.as_curl_command()}")  # fmt: skip

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing of this operation can be made invalid
    assert operations > 60
    assert errors == [], "\n".join(errors[:20])
