"""A serving worker's garbage collector: start-up's objects frozen, collections far less frequent."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from typer.testing import CliRunner

from app import main
from app.core import gc_tuning


def test_a_served_app_tunes_the_collector_after_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(("collect", a)) or 0)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(("freeze", ())))
    monkeypatch.setattr(gc, "set_threshold", lambda *a: calls.append(("set_threshold", a)))
    built: list[str] = []
    monkeypatch.setattr(main, "create_app", lambda: built.append("app") or "the app")

    assert main.create_served_app() == "the app"

    assert built == ["app"]
    assert [name for name, _ in calls] == ["collect", "freeze", "set_threshold"]
    assert calls[-1][1] == gc_tuning.SERVING_THRESHOLDS
    young, middle, old = gc_tuning.SERVING_THRESHOLDS
    assert young >= 10 * gc.get_threshold()[0] and middle >= 10 and old >= 10


def test_exambank_serve_runs_the_served_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.cli as command

    served: dict[str, Any] = {}
    monkeypatch.setattr(command, "upgrade_database", lambda _url: None)
    monkeypatch.setattr(command.uvicorn, "run", lambda target, **options: served.update(target=target, **options))

    result = CliRunner().invoke(command.cli, ["serve", "--workers", "2"])

    assert result.exit_code == 0, result.output
    assert served["target"] == "app.main:create_served_app" and served["factory"] is True
    assert served["workers"] == 2
