"""A real PgBouncer (Debian's ``pgbouncer``) in transaction mode for the tests, on a port of its own.

It runs from a throw-away directory (its configuration, user list, log), in front of the PostgreSQL the
run uses, and stops by itself (``timeout``) if a test run dies before stopping it.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

PORTS = range(18310, 18340)
LIFETIME_SECONDS = 3600


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(path)), None
    )


_HANDED_OUT: set[int] = set()


def free_port(ports: range = PORTS) -> int:
    """A port of ``ports`` nothing listens on, and not handed out before by this process (a server
    started a moment ago may not listen yet)."""
    # In random order: two test runs at once (two worktrees) rarely probe the same port at the same moment.
    candidates = random.sample(list(ports), len(ports))
    for _ in range(2):
        for port in candidates:
            if port in _HANDED_OUT:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
                _HANDED_OUT.add(port)
                return port
        _HANDED_OUT.intersection_update(set())  # all handed out: those of stopped servers are free again
    raise RuntimeError(f"no free port in {ports}")


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {log.read_text() if log.exists() else ''}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not listen on {port}: {log.read_text() if log.exists() else ''}")


@contextmanager
def run_pgbouncer(postgres_url: str, *, pool_size: int = 20, pool_mode: str = "transaction") -> Iterator[str]:
    """Start PgBouncer in front of ``postgres_url``'s server; yields the same URL through it."""
    binary = pgbouncer_binary()
    if binary is None:
        raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
    url = make_url(postgres_url)
    port = free_port()
    # Its own directory, readable by the user PgBouncer runs as (pytest's tmp_path is private to root).
    directory = Path(tempfile.mkdtemp(prefix="exambank-pgbouncer-"))
    directory.chmod(0o755)
    log = directory / "pgbouncer.log"
    (directory / "userlist.txt").write_text(f'"{url.username or "postgres"}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={url.host or '127.0.0.1'} port={url.port or 5432}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {directory / 'userlist.txt'}",
                f"pool_mode = {pool_mode}",
                "max_client_conn = 2000",
                f"default_pool_size = {pool_size}",
                "server_check_delay = 0",
                f"logfile = {log}",
                "",
            ]
        )
    )
    command = ["timeout", str(LIFETIME_SECONDS), binary, str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        shutil.chown(directory, "postgres")
        for child in directory.iterdir():
            shutil.chown(child, "postgres")
        command = ["timeout", str(LIFETIME_SECONDS), "runuser", "-u", "postgres", "--", *command[2:]]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, process, log)
        yield url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
