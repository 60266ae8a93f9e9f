"""The arrival rule (app.core.arrival) and its setting: a proxy's stamp counts only from a trusted peer,
bounded by the application's clock; the same peers' X-Forwarded-For names the client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from pydantic import ValidationError
from starlette.requests import Request

from app.core.arrival import MAX_PROXY_DELAY, arrival_time
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.lane import LaneApplication

NOW = datetime(2026, 9, 10, 1, 30, tzinfo=UTC)


def scope(peer: str | None, *stamps: str) -> dict[str, Any]:
    return {
        "client": (peer, 5000) if peer else None,
        "headers": [(b"x-request-start", s.encode()) for s in stamps],
    }


def t(moment: datetime) -> str:
    return f"t={moment.timestamp():.3f}"


def test_the_setting_reads_addresses_and_networks_separated_by_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().trusted_proxies == ()
    monkeypatch.setenv("EXAMBANK_TRUSTED_PROXIES", " 127.0.0.1, 10.0.0.0/24 ,::1")
    assert [str(n) for n in Settings().trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/24", "::1/128"]
    for wrong in ("nginx", "10.0.0.1/8"):
        with pytest.raises(ValidationError, match="trusted_proxies"):
            Settings(trusted_proxies=wrong)


@pytest.mark.parametrize(
    ("proxies", "peer", "trusted"),
    [
        ("", "127.0.0.1", False),  # the default trusts nobody
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "127.0.0.2", False),
        ("10.0.0.0/24", "10.0.0.200", True),
        ("10.0.0.0/24", "10.0.1.1", False),
        ("fd00::/64", "fd00::7", True),
        ("127.0.0.1", None, False),
        ("127.0.0.1", "not-an-address", False),
    ],
)
def test_a_stamp_counts_from_a_trusted_peer_only(proxies: str, peer: str | None, trusted: bool) -> None:
    received = NOW - timedelta(seconds=7)
    arrived = arrival_time(scope(peer, t(received)), NOW, Settings(trusted_proxies=proxies).trusted_proxies)
    assert arrived == (received if trusted else NOW)


def test_the_stamp_is_bounded_by_the_clock() -> None:
    proxies = Settings(trusted_proxies="127.0.0.1").trusted_proxies
    assert arrival_time(scope("127.0.0.1", t(NOW + timedelta(minutes=5))), NOW, proxies) == NOW
    assert arrival_time(scope("127.0.0.1", t(NOW - timedelta(hours=2))), NOW, proxies) == NOW - MAX_PROXY_DELAY
    assert arrival_time(scope("127.0.0.1", t(NOW - MAX_PROXY_DELAY)), NOW, proxies) == NOW - MAX_PROXY_DELAY
    assert arrival_time(scope("127.0.0.1"), NOW, proxies) == NOW  # no stamp
    assert arrival_time(scope("127.0.0.1", t(NOW), t(NOW)), NOW, proxies) == NOW  # two


@pytest.mark.parametrize(("proxies", "seen"), [("127.0.0.1", "198.51.100.4"), ("", "127.0.0.1")])
async def test_x_forwarded_for_names_the_client_behind_a_trusted_proxy_only(proxies: str, seen: str) -> None:
    app = LaneApplication()
    app.state.settings = Settings(trusted_proxies=proxies)
    app.state.clock = FrozenClock(NOW)

    @app.get("/who")
    async def who(request: Request) -> str:
        assert request.client is not None
        return request.client.host

    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://exambank.test") as client:
        reply = await client.get("/who", headers={"X-Forwarded-For": "198.51.100.4"})
    assert reply.json() == seen
