"""``exambank serve`` listens with the backlog a synchronized start needs: the kernel's limit unless told
otherwise, and a warning in Chinese when an explicit backlog is more than the kernel gives."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from app.core import listen_backlog
from tests.servers import running, start_server, wait_healthy


def _listening_backlog(port: int) -> int:
    """What the kernel gave the listening socket on ``port`` (``ss`` shows it as Send-Q)."""
    shown = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], check=True, capture_output=True, text=True
    ).stdout.split()
    assert shown and shown[0] == "LISTEN", shown
    return int(shown[2])


def test_the_backlog_defaults_to_the_kernel_limit_and_an_explicit_one_is_kept(tmp_path: Path) -> None:
    limit = tmp_path / "somaxconn"
    limit.write_text("16384\n")
    assert listen_backlog.choose(None, limit_path=limit).backlog == 16384
    assert listen_backlog.choose(None, limit_path=limit).warning() is None
    assert listen_backlog.choose(900, limit_path=limit).backlog == 900
    limit.write_text("128\n")  # an old kernel's default: never below uvicorn's own
    assert listen_backlog.choose(None, limit_path=limit).backlog == listen_backlog.FALLBACK_BACKLOG
    assert listen_backlog.choose(None, limit_path=tmp_path / "absent").backlog == listen_backlog.FALLBACK_BACKLOG


def test_an_explicit_backlog_the_kernel_cuts_is_told_in_chinese(tmp_path: Path) -> None:
    limit = tmp_path / "somaxconn"
    limit.write_text("4096\n")
    chosen = listen_backlog.choose(20000, limit_path=limit)
    assert chosen.cut_to == 4096
    warning = chosen.warning()
    assert warning is not None
    assert "net.core.somaxconn=4096" in warning and "sysctl -w net.core.somaxconn=20000" in warning


@pytest.mark.skipif(shutil.which("ss") is None or not listen_backlog.SOMAXCONN.exists(), reason="needs Linux ss")
def test_the_served_socket_has_the_backlog_asked_for(tmp_path: Path) -> None:
    kernel = listen_backlog.kernel_limit()
    assert kernel is not None
    database = f"sqlite:///{tmp_path / 'backlog.db'}"
    by_default, explicit, too_large = (
        start_server(database, tmp_path, args=args)
        for args in ((), ("--backlog", "700"), ("--backlog", str(kernel + 1)))
    )
    with running([by_default, explicit, too_large]):
        for server in (by_default, explicit, too_large):
            wait_healthy(server)
        assert _listening_backlog(by_default.port) == min(listen_backlog.choose(None).backlog, kernel)
        assert _listening_backlog(explicit.port) == 700
        assert _listening_backlog(too_large.port) == kernel
        assert f"net.core.somaxconn={kernel}" in too_large.output()
        assert "net.core.somaxconn" not in by_default.output()
