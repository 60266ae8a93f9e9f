"""The reference deployment on loopback: nginx → N ``exambank serve`` app servers → PgBouncer → PostgreSQL.

    deploy/run-local                                  # 2 app servers, nginx on 127.0.0.1:18400, until Ctrl-C
    deploy/run-local --servers 3 --workers 2 --for 600
    deploy/run-local render-compose                   # rewrite deploy/compose/*.conf|ini from the templates

``Topology`` is what the script, the tests (tests/deploy) and the province benchmark (bench/bench_province.py)
start: a database of its own on an existing PostgreSQL (created, migrated directly — not through the
pooler — and dropped at the end), its own PgBouncer and nginx with their configuration rendered from
deploy/templates into a temporary directory, and the app servers, each in its own process group. Every
process is stopped and the directory removed when it ends; every wait is bounded. With ``--database
sqlite`` the app servers share one SQLite file instead (no pooler): the same proxy in front of them.

Ports: nginx on ``base_port``, PgBouncer on ``base_port + 1``, the app servers on ``base_port + 2`` onwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

DEPLOY_DIR = Path(__file__).resolve().parent
ROOT = DEPLOY_DIR.parent
TEMPLATES = DEPLOY_DIR / "templates"
COMPOSE_DIR = DEPLOY_DIR / "compose"
BIN = Path(sys.executable).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_USERNAME = "admin"


def _transaction_pooler_supported() -> bool:
    """Whether this code's settings know ``EXAMBANK_DB_TRANSACTION_POOLER`` (else PgBouncer runs in session mode)."""
    from app.core.config import Settings

    return "db_transaction_pooler" in Settings.model_fields


@dataclass
class TopologyConfig:
    servers: int = 2
    workers: int = 1  # per app server
    base_port: int = 18400
    database: str = "postgresql"  # or "sqlite"
    postgres_admin_url: str = PG_ADMIN
    pool_mode: str = ""  # "transaction" or "session"; empty: transaction when the code supports it
    app_pool_size: int = 10  # EXAMBANK_DB_POOL_SIZE, per worker
    pgbouncer_pool_size: int = 40  # server connections PgBouncer keeps to PostgreSQL
    nginx_workers: int = 2
    nginx_worker_connections: int = 16384
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(40))
    environment: Mapping[str, str] = field(default_factory=dict)  # more EXAMBANK_* settings for the servers
    log_level: str = "WARNING"
    access_log: bool = False
    start_timeout: float = 90.0

    @property
    def nginx_port(self) -> int:
        return self.base_port

    @property
    def pgbouncer_port(self) -> int:
        return self.base_port + 1

    def server_port(self, index: int) -> int:
        return self.base_port + 2 + index

    def resolved_pool_mode(self) -> str:
        if self.pool_mode:
            return self.pool_mode
        return "transaction" if _transaction_pooler_supported() else "session"


def render(template: str, **values: Any) -> str:
    environment = jinja2.Environment(  # noqa: S701 - configuration files, not HTML
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    return environment.get_template(template).render(**values)


def nginx_values(
    *,
    servers: list[str],
    listen: str,
    run_dir: str,
    error_log: str,
    workers: int,
    worker_connections: int,
    access_log: str,
) -> dict[str, Any]:
    return {
        "user": "nobody nogroup" if os.geteuid() == 0 else "",
        "worker_processes": workers,
        "worker_connections": worker_connections,
        "rlimit_nofile": min(worker_connections + 1024, _hard_nofile()),
        "run_dir": run_dir,
        "error_log": error_log,
        "access_log": access_log,
        "servers": servers,
        "upstream_keepalive": 256,
        "listen": listen,
    }


def pgbouncer_values(
    *,
    database: str,
    postgres_host: str,
    postgres_port: int,
    listen_addr: str,
    listen_port: int,
    auth_type: str,
    auth_file: str,
    log_file: str,
    pid_file: str,
    pool_mode: str,
    clients: int,
    pool_size: int,
    admin_users: str = "",
) -> dict[str, Any]:
    return {
        "database": database,
        "postgres_host": postgres_host,
        "postgres_port": postgres_port,
        "listen_addr": listen_addr,
        "listen_port": listen_port,
        "auth_type": auth_type,
        "auth_file": auth_file,
        "admin_users": admin_users,
        "log_file": log_file,
        "pid_file": pid_file,
        "pool_mode": pool_mode,
        "max_client_conn": clients + 100,
        "default_pool_size": pool_size,
        "reserve_pool_size": max(5, pool_size // 4),
    }


def _hard_nofile() -> int:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return hard if hard != resource.RLIM_INFINITY else 1 << 20


# The compose topology: the same templates, rendered for the service names of deploy/compose.yaml.
COMPOSE_SERVERS = 3
COMPOSE_WORKERS = 2
COMPOSE_POOL_SIZE = 10


def compose_files() -> dict[str, str]:
    """The configuration files deploy/compose.yaml mounts, rendered from deploy/templates."""
    nginx = render(
        "nginx.conf.j2",
        **nginx_values(
            servers=[f"app{i}:8000" for i in range(1, COMPOSE_SERVERS + 1)],
            listen="8080",
            run_dir="/tmp",  # noqa: S108 - nginx's temporary files inside its container
            error_log="/dev/stderr",
            workers=4,
            worker_connections=16384,
            access_log="/dev/stdout",
        )
        | {"user": "nginx", "rlimit_nofile": 65536},
    )
    pgbouncer = render(
        "pgbouncer.ini.j2",
        **pgbouncer_values(
            database="exambank",
            postgres_host="postgres",
            postgres_port=5432,
            listen_addr="0.0.0.0",  # noqa: S104 - inside the compose network only
            listen_port=6432,
            auth_type="scram-sha-256",
            auth_file="/etc/pgbouncer/userlist.txt",
            log_file="",  # the container's output
            pid_file="",
            pool_mode="transaction",
            clients=COMPOSE_SERVERS * COMPOSE_WORKERS * COMPOSE_POOL_SIZE,
            pool_size=40,
        ),
    )
    return {"nginx.conf": nginx, "pgbouncer.ini": pgbouncer}


def write_compose_files() -> list[Path]:
    COMPOSE_DIR.mkdir(exist_ok=True)
    written = []
    for name, content in compose_files().items():
        path = COMPOSE_DIR / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


# Processes --------------------------------------------------------------------------------------------


class Process:
    """One program of the topology in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], *, env: Mapping[str, str], log: Path, cwd: Path = ROOT) -> None:
        self.name, self.argv, self.env, self.log, self.cwd = name, argv, dict(env), log, cwd
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(  # noqa: S603 - the topology's own programs
                self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Signal the whole group, wait, then SIGKILL what is left."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        # Workers of the group that outlived their parent.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def get_json(url: str, timeout: float = 3.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 - loopback URLs only
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def _wait_until(check: Any, *, timeout: float, what: str, processes: list[Process]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if not process.running:
                raise RuntimeError(f"{process.name} exited while {what}:\n{process.tail()}")
        with contextlib.suppress(OSError, ValueError):
            if check():
                return
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in processes)
    raise RuntimeError(f"timed out after {timeout:g} s {what}\n{tails}")


def _ready(port: int) -> bool:
    return get_json(f"http://127.0.0.1:{port}/api/ready")[0] == 200


# The topology -----------------------------------------------------------------------------------------


class Topology:
    """Start with ``start()`` (or ``with Topology(config) as t:``), stop with ``stop()``; see the module."""

    def __init__(self, config: TopologyConfig) -> None:
        self.config = config
        self.run_dir = Path(tempfile.mkdtemp(prefix="exambank-deploy-"))
        self.run_dir.chmod(0o755)  # nginx's and PgBouncer's unprivileged processes read their files here
        self.database_name = f"exambank_deploy_{uuid.uuid4().hex[:8]}"
        self.pgbouncer: Process | None = None
        self.servers: list[Process] = []
        self.nginx: Process | None = None
        self._database_created = False

    # What clients use
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.nginx_port}"

    def server_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.config.server_port(index)}"

    @property
    def direct_database_url(self) -> str:
        """PostgreSQL itself (migrations, checks); the app servers go through PgBouncer."""
        if self.config.database == "sqlite":
            return f"sqlite:///{self.run_dir}/exambank.db"
        from sqlalchemy.engine import make_url

        return make_url(self.config.postgres_admin_url).set(database=self.database_name).render_as_string(False)

    @property
    def served_database_url(self) -> str:
        if self.config.database == "sqlite":
            return self.direct_database_url
        from sqlalchemy.engine import make_url

        pooled = make_url(self.config.postgres_admin_url).set(
            host="127.0.0.1", port=self.config.pgbouncer_port, database=self.database_name
        )
        return pooled.render_as_string(False)

    @property
    def admin_credentials(self) -> tuple[str, str]:
        return ADMIN_USERNAME, self.config.admin_password

    # Life cycle
    def __enter__(self) -> Topology:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        try:
            self._check_ports_free()
            self._create_database()
            self._migrate()
            if self.config.database != "sqlite":
                self._start_pgbouncer()
            self._start_servers()
            self._start_nginx()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop nginx (graceful), the app servers (their in-flight requests finish), PgBouncer; drop the
        database; remove the directory. Safe to call twice."""
        if self.nginx is not None:
            self.nginx.stop(signal.SIGQUIT, timeout=15)
        for server in self.servers:
            if server.popen is not None and server.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGTERM)
        for server in self.servers:
            server.stop(timeout=25)
        if self.pgbouncer is not None:
            self.pgbouncer.stop(signal.SIGINT, timeout=10)
        self._drop_database()
        if not os.environ.get("EXAMBANK_DEPLOY_KEEP_LOGS"):
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def _check_ports_free(self) -> None:
        ports = [self.config.nginx_port, self.config.pgbouncer_port]
        ports += [self.config.server_port(i) for i in range(self.config.servers)]
        taken = [port for port in ports if _port_open(port)]
        if taken:
            raise RuntimeError(f"ports already in use on 127.0.0.1: {taken}")

    def _pg_admin(self, statement: str) -> None:
        import asyncio

        import asyncpg

        async def run() -> None:
            conn = await asyncpg.connect(self.config.postgres_admin_url)
            try:
                await conn.execute(statement)
            finally:
                await conn.close()

        asyncio.run(run())

    def _create_database(self) -> None:
        if self.config.database == "sqlite":
            return
        self._pg_admin(f'CREATE DATABASE "{self.database_name}"')
        self._database_created = True

    def _drop_database(self) -> None:
        if self._database_created:
            with contextlib.suppress(Exception):
                self._pg_admin(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
            self._database_created = False

    def _migrate(self) -> None:
        """Once, straight to PostgreSQL (DDL and its lock are no business of a transaction pooler)."""
        env = self._server_env() | {"EXAMBANK_DATABASE_URL": self.direct_database_url}
        migrate = subprocess.run(  # noqa: S603 - our own command
            [str(BIN / "exambank"), "migrate"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"exambank migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
        self._create_administrator()

    def _create_administrator(self) -> None:
        """Once, before the servers (each would also create it at start-up when missing)."""
        import asyncio

        import app.schema  # noqa: F401 - every model, for the foreign keys
        from app.accounts.service import ensure_bootstrap_admin
        from app.core.db import Database

        async def create() -> None:
            database = Database(self.direct_database_url, pool_size=1)
            try:
                async with database.write_sessions() as session:
                    await ensure_bootstrap_admin(session, username=ADMIN_USERNAME, password=self.config.admin_password)
                    await session.commit()
            finally:
                await database.dispose()

        asyncio.run(create())

    def _start_pgbouncer(self) -> None:
        from sqlalchemy.engine import make_url

        admin = make_url(self.config.postgres_admin_url)
        users = self.run_dir / "userlist.txt"
        users.write_text(f'"{admin.username}" "{admin.password or ""}"\n')
        log = self.run_dir / "pgbouncer.log"
        log.touch()
        clients = self.config.servers * self.config.workers * self.config.app_pool_size
        config = render(
            "pgbouncer.ini.j2",
            **pgbouncer_values(
                database=self.database_name,
                postgres_host=admin.host or "127.0.0.1",
                postgres_port=admin.port or 5432,
                listen_addr="127.0.0.1",
                listen_port=self.config.pgbouncer_port,
                auth_type="trust" if not admin.password else "plain",
                auth_file=str(users),
                log_file=str(log),
                pid_file=str(self.run_dir / "pgbouncer.pid"),
                pool_mode=self.config.resolved_pool_mode(),
                clients=clients,
                pool_size=self.config.pgbouncer_pool_size,
            ),
        )
        path = self.run_dir / "pgbouncer.ini"
        path.write_text(config)
        argv = ["pgbouncer", str(path)]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            argv[1:1] = ["-u", "nobody"]
            for owned in (self.run_dir, log):
                os.chown(owned, _nobody_uid(), -1)
        self.pgbouncer = Process("pgbouncer", argv, env=os.environ, log=self.run_dir / "pgbouncer.out")
        self.pgbouncer.start()
        _wait_until(
            lambda: _port_open(self.config.pgbouncer_port),
            timeout=15,
            what="waiting for PgBouncer",
            processes=[self.pgbouncer],
        )

    def _server_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXAMBANK_")}
        env |= {
            "EXAMBANK_ENVIRONMENT": "production",
            "EXAMBANK_DATABASE_URL": self.served_database_url,
            "EXAMBANK_SECRET_KEY": self.config.secret_key,
            "EXAMBANK_ADMIN_USERNAME": ADMIN_USERNAME,
            "EXAMBANK_ADMIN_PASSWORD": self.config.admin_password,
            "EXAMBANK_DB_POOL_SIZE": str(self.config.app_pool_size),
            "EXAMBANK_LOG_LEVEL": self.config.log_level,
            # nginx's X-Request-Start (the arrival of a request) and X-Forwarded-For are trusted from it only.
            "EXAMBANK_TRUSTED_PROXIES": "127.0.0.1",
        }
        if self.config.database != "sqlite" and self.config.resolved_pool_mode() == "transaction":
            env["EXAMBANK_DB_TRANSACTION_POOLER"] = "true"
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each server names its own (app.core.metrics_directory)
        return env | dict(self.config.environment)

    def _start_servers(self) -> None:
        env = self._server_env()
        for index in range(self.config.servers):
            port = self.config.server_port(index)
            argv = [str(BIN / "exambank"), "serve", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--workers", str(self.config.workers)]
            self.servers.append(Process(f"app{index + 1}", argv, env=env, log=self.run_dir / f"app{index + 1}.log"))
        for server in self.servers:  # all at once, as an operator's service manager would
            server.start()
        _wait_until(
            lambda: all(_ready(self.config.server_port(i)) for i in range(self.config.servers)),
            timeout=self.config.start_timeout,
            what="waiting for the app servers",
            processes=self.servers,
        )

    def _start_nginx(self) -> None:
        run_dir = str(self.run_dir)
        config = render(
            "nginx.conf.j2",
            **nginx_values(
                servers=[f"127.0.0.1:{self.config.server_port(i)}" for i in range(self.config.servers)],
                listen=f"127.0.0.1:{self.config.nginx_port}",
                run_dir=run_dir,
                error_log=f"{run_dir}/nginx-error.log",
                workers=self.config.nginx_workers,
                worker_connections=self.config.nginx_worker_connections,
                access_log=f"{run_dir}/nginx-access.log" if self.config.access_log else "off",
            ),
        )
        path = self.run_dir / "nginx.conf"
        path.write_text(config)
        argv = ["nginx", "-p", run_dir, "-c", str(path), "-e", f"{run_dir}/nginx-error.log", "-g", "daemon off;"]
        self.nginx = Process("nginx", argv, env=os.environ, log=self.run_dir / "nginx.out")
        self.nginx.start()
        _wait_until(
            lambda: _ready(self.config.nginx_port), timeout=20, what="waiting for nginx", processes=[self.nginx]
        )

    def describe(self) -> str:
        user, password = self.admin_credentials
        lines = [f"exambank through nginx: {self.url}  (log in as {user} / {password})"]
        for i in range(self.config.servers):
            lines.append(f"  app server {i + 1}: {self.server_url(i)}  (metrics: {self.server_url(i)}/metrics)")
        if self.config.database != "sqlite":
            lines.append(
                f"  PgBouncer ({self.config.resolved_pool_mode()} mode): 127.0.0.1:{self.config.pgbouncer_port}, "
                f"database {self.database_name} on {self.config.postgres_admin_url.rsplit('@', 1)[-1]}"
            )
        lines.append(f"  configuration and logs: {self.run_dir}")
        return "\n".join(lines)


def _nobody_uid() -> int:
    import pwd

    return pwd.getpwnam("nobody").pw_uid


@contextlib.contextmanager
def running(config: TopologyConfig) -> Iterator[Topology]:
    topology = Topology(config)
    topology.start()
    try:
        yield topology
    finally:
        topology.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="up", choices=["up", "render-compose"])
    parser.add_argument("--servers", type=int, default=2, help="app servers behind nginx")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per app server")
    parser.add_argument("--base-port", type=int, default=18400, help="nginx's port; the others follow it")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--postgres", default=PG_ADMIN, help="an administrator's URL of the PostgreSQL to use")
    parser.add_argument("--pool-mode", choices=["transaction", "session"], default="")
    parser.add_argument("--for", dest="seconds", type=float, default=0.0, help="stop after this many seconds")
    args = parser.parse_args(argv)
    if args.command == "render-compose":
        for path in write_compose_files():
            print(f"written {path.relative_to(ROOT)}")
        return 0
    config = TopologyConfig(
        servers=args.servers,
        workers=args.workers,
        base_port=args.base_port,
        database=args.database,
        postgres_admin_url=args.postgres,
        pool_mode=args.pool_mode,
        log_level="INFO",
        access_log=True,
    )
    stop = {"now": False}

    def on_signal(_signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with running(config) as topology:
        print(topology.describe(), flush=True)
        until = time.monotonic() + args.seconds if args.seconds else float("inf")
        while not stop["now"] and time.monotonic() < until:
            time.sleep(0.5)
        print("stopping", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
