"""deploy/compose.yaml describes the topology deploy/run-local starts: the same templates, the same
settings, the same number of app servers nginx and PgBouncer are sized for (Docker itself is not run here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from deploy import topology
from deploy.topology import COMPOSE_DIR, COMPOSE_POOL_SIZE, COMPOSE_SERVERS, COMPOSE_WORKERS, Topology, TopologyConfig

DEPLOY = Path(topology.__file__).resolve().parent


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_the_rendered_configuration_files_are_current() -> None:
    for name, content in topology.compose_files().items():
        assert (COMPOSE_DIR / name).read_text(encoding="utf-8") == content, (
            f"deploy/compose/{name} is stale: run deploy/run-local render-compose"
        )


def test_nginx_and_pgbouncer_are_sized_for_the_app_servers_compose_runs() -> None:
    services = _compose()["services"]
    apps = sorted(name for name in services if re.fullmatch(r"app\d+", name))
    assert apps == [f"app{i}" for i in range(1, COMPOSE_SERVERS + 1)]
    nginx = (COMPOSE_DIR / "nginx.conf").read_text(encoding="utf-8")
    assert re.findall(r"^\s*server (app\d+):8000 ", nginx, flags=re.MULTILINE) == apps
    pgbouncer = (COMPOSE_DIR / "pgbouncer.ini").read_text(encoding="utf-8")
    max_client_conn = int(re.search(r"^max_client_conn = (\d+)$", pgbouncer, flags=re.MULTILINE).group(1))  # type: ignore[union-attr]
    for name in apps:
        app = services[name]
        command = app["command"]
        assert command[:2] == ["exambank", "serve"]
        assert command[command.index("--workers") + 1] == str(COMPOSE_WORKERS)
        assert app["environment"]["EXAMBANK_DB_POOL_SIZE"] == str(COMPOSE_POOL_SIZE)
    assert max_client_conn >= COMPOSE_SERVERS * COMPOSE_WORKERS * COMPOSE_POOL_SIZE
    assert "pool_mode = transaction" in pgbouncer


def test_the_servers_get_the_settings_the_local_topology_gives_them() -> None:
    services = _compose()["services"]
    local = Topology(TopologyConfig(pool_mode="transaction"))
    try:
        expected = {k for k in local._server_env() if k.startswith("EXAMBANK_")}
    finally:
        local.stop()
    app = services["app1"]["environment"]
    assert expected <= set(app)
    assert app["EXAMBANK_DB_TRANSACTION_POOLER"] == "true"
    # The app servers go through PgBouncer; migrations run once, before them, straight to PostgreSQL.
    served = make_url(app["EXAMBANK_DATABASE_URL"].replace("${EXAMBANK_DB_PASSWORD:?set EXAMBANK_DB_PASSWORD}", "x"))
    direct = make_url(
        services["migrate"]["environment"]["EXAMBANK_DATABASE_URL"].replace(
            "${EXAMBANK_DB_PASSWORD:?set EXAMBANK_DB_PASSWORD}", "x"
        )
    )
    assert (served.host, served.port) == ("pgbouncer", 6432)
    assert (direct.host, direct.port) == ("postgres", 5432)
    assert services["migrate"]["command"] == ["exambank", "migrate"]
    assert services["app1"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_images_are_built_from_files_in_the_repository() -> None:
    services = _compose()["services"]
    build = services["app1"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    assert (DEPLOY / services["pgbouncer"]["build"] / "Dockerfile").is_file()
    dockerfile = (DEPLOY / build["context"] / build["dockerfile"]).read_text(encoding="utf-8")
    assert "/api/ready" in dockerfile  # the image's health check is the readiness route


def test_the_app_servers_trust_the_arrival_stamp_of_nginx_only() -> None:
    from app.core.arrival import is_trusted
    from app.core.config import Settings

    services = _compose()["services"]
    trusted = Settings(trusted_proxies=services["app1"]["environment"]["EXAMBANK_TRUSTED_PROXIES"]).trusted_proxies
    nginx_address = services["nginx"]["networks"]["default"]["ipv4_address"]
    assert is_trusted(nginx_address, trusted)
    assert not any(is_trusted(f"172.30.0.{i}", trusted) for i in range(1, 255) if f"172.30.0.{i}" != nginx_address)
    subnet = _compose()["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert nginx_address.startswith(subnet.rsplit(".", 1)[0] + ".")
    assert 'proxy_set_header X-Request-Start "t=${msec}";' in (COMPOSE_DIR / "nginx.conf").read_text(encoding="utf-8")
    local = Topology(TopologyConfig())
    try:
        assert is_trusted(
            "127.0.0.1", Settings(trusted_proxies=local._server_env()["EXAMBANK_TRUSTED_PROXIES"]).trusted_proxies
        )
    finally:
        local.stop()


def test_the_kernel_holds_the_release_s_connections_for_nginx_and_every_app_server() -> None:
    services = _compose()["services"]
    nginx_conf = (COMPOSE_DIR / "nginx.conf").read_text(encoding="utf-8")
    nginx_backlog = int(re.search(r"^\s*listen \d+ .*backlog=(\d+);", nginx_conf, flags=re.MULTILINE).group(1))  # type: ignore[union-attr]
    apps = [name for name in services if re.fullmatch(r"app\d+", name)]
    for name in [*apps, "nginx"]:
        somaxconn = int(services[name].get("sysctls", {}).get("net.core.somaxconn", 0))
        # Docker's default is 4,096; below nginx's own backlog the kernel would cut it.
        assert somaxconn > 4096, name
        assert somaxconn >= nginx_backlog, name
