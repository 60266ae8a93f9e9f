"""Real ``exambank serve`` processes for the tests: started from this worktree's code on ports of their
own, bounded in time (``timeout``), and stopped with their workers (a process group each)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from tests.pgbouncer import free_port

ROOT = Path(__file__).resolve().parents[1]
SERVER_PORTS = range(18340, 18370)
LIFETIME_SECONDS = 600


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def server_environment(database_url: str, **extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("EXAMBANK_")}
    environment.update(
        PYTHONPATH=str(ROOT),
        EXAMBANK_DATABASE_URL=database_url,
        EXAMBANK_ENVIRONMENT="test",
        EXAMBANK_SECRET_KEY="exambank-test-secret-0123456789abcdef",
        EXAMBANK_LOG_LEVEL="INFO",
        **extra,
    )
    if os.environ.get("EXAMBANK_DB_TRANSACTION_POOLER"):
        environment.setdefault("EXAMBANK_DB_TRANSACTION_POOLER", os.environ["EXAMBANK_DB_TRANSACTION_POOLER"])
    return environment


def start_server(
    database_url: str, log_dir: Path, *, workers: int = 1, args: Sequence[str] = (), **environment: str
) -> Server:
    port = free_port(SERVER_PORTS)
    log = log_dir / f"serve-{port}.log"
    command = [
        "timeout",
        str(LIFETIME_SECONDS),
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        *args,
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=server_environment(database_url, **environment),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(port=port, process=process, log=log)


def wait_healthy(server: Server, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server on {server.port} exited ({server.process.returncode}):\n{server.output()}")
        try:
            if httpx2.get(f"{server.url}/api/health", timeout=2).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server on {server.port} not healthy after {seconds} s:\n{server.output()}")


@contextmanager
def running(servers: list[Server]) -> Iterator[list[Server]]:
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()
