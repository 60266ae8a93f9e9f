"""The exam room's HTTP tests run twice: with the hot-path lane in front of the application and without it
(every request then reaches the routes). Both must give the same replies and leave the same rows; a test
that is about the lane itself (that it answered) is marked ``lane_only``."""

from __future__ import annotations

import pytest

from app.core.lane import LaneApplication

ROOM_MODULES = ("test_attempts_", "test_hot_path_lane", "test_sweeper_deadline", "test_room_")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lane_only: about the hot-path lane itself; not run with the lane off")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if "lane_mode" not in metafunc.fixturenames or not module.startswith(ROOM_MODULES):
        return
    modes = ["lane"] if metafunc.definition.get_closest_marker("lane_only") else ["lane", "routes"]
    metafunc.parametrize("lane_mode", modes, indirect=True)


@pytest.fixture
def lane_mode(request: pytest.FixtureRequest) -> str:
    """``lane`` (the default) or ``routes``."""
    return str(getattr(request, "param", "lane"))


@pytest.fixture
def app(app: LaneApplication, lane_mode: str) -> LaneApplication:
    app.lane_enabled = lane_mode == "lane"
    return app
