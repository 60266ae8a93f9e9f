"""A throw-away PostgreSQL cluster of the tests' own (initdb into a temporary directory, its own port), to
stop and start at will without touching the shared server. Bounded in time (``timeout``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.pgbouncer import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
PORTS = range(18380, 18390)
LIFETIME_SECONDS = 900


def available() -> bool:
    return (BIN / "initdb").exists() and (os.geteuid() != 0 or shutil.which("runuser") is not None)


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Cluster:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, seconds: float = 30) -> None:
        command = _as_postgres(
            [
                "timeout",
                str(LIFETIME_SECONDS),
                str(BIN / "postgres"),
                "-D",
                str(self.directory / "data"),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.directory}",
                "-c",
                "fsync=off",
            ]
        )
        with (self.directory / "postgres.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready = subprocess.run(
                ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False, timeout=10
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL on {self.port} did not start: {(self.directory / 'postgres.log').read_text()}")

    def stop(self) -> None:
        """A fast shutdown (what ``pg_ctlcluster … restart`` does first): sessions are ended at once."""
        subprocess.run(
            _as_postgres([str(BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
            timeout=60,
        )
        if self.process is not None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    directory = Path(tempfile.mkdtemp(prefix="exambank-pgcluster-"))
    directory.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    subprocess.run(
        _as_postgres([str(BIN / "initdb"), "-D", str(directory / "data"), "-U", "postgres", "-A", "trust", "-N"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster = Cluster(directory=directory, port=free_port(PORTS))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
