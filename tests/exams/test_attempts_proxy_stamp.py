"""Behind a trusted proxy a save is judged by the time the proxy stamped on it (``X-Request-Start``), not by
when it reached the application after the queues of a storm; the stamp of anyone else, a malformed one, or
one from the future gains nothing (app.core.arrival). With the lane and without it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.arrival import MAX_PROXY_DELAY
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.exams.models import Attempt
from app.exams.room.sweeper import IN_FLIGHT_SECONDS, sweep_batch, sweep_grace_seconds
from tests.conftest import TEST_SECRET
from tests.exams.factories_attempts import Examinee, make_exam_setup, start_attempt

GRACE = 10  # settings.save_grace_seconds
LIMIT = 600  # the paper's time limit
PROXY = "127.0.0.1"  # the test client's address (httpx2.ASGITransport)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test", database_url=database_url, secret_key=TEST_SECRET, run_sweeper=False,
        trusted_proxies=f"{PROXY},10.0.0.0/24",
    )  # fmt: skip


def stamp(moment: datetime) -> dict[str, str]:
    return {"X-Request-Start": f"t={moment.timestamp():.3f}"}


async def _save(
    client: httpx2.AsyncClient, start: dict[str, Any], examinee: Examinee, seq: int, headers: dict[str, str]
) -> httpx2.Response:
    return await client.put(
        f"/api/attempts/{start['attempt_id']}/answers",
        json={"seq": seq, "answers": {"1": ["B"]}},
        headers=examinee.headers | headers,
    )


async def _attempt(session: AsyncSession, start: dict[str, Any]) -> Attempt:
    attempt = await session.scalar(select(Attempt).where(Attempt.id == start["attempt_id"]))
    assert attempt is not None
    await session.refresh(attempt)
    return attempt


async def test_a_save_the_trusted_proxy_had_in_the_grace_is_taken_after_it(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, shuffle=False, time_limit_seconds=LIMIT, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    received = clock.advance(seconds=LIMIT + GRACE - 2)  # nginx has it 2 s before the grace ends
    clock.advance(seconds=20)  # it reaches the application 18 s after the grace

    reply = await _save(client, start, examinee, 1, stamp(received))

    assert reply.status_code == 200, reply.text
    assert reply.json()["saved"] is True
    attempt = await _attempt(session, start)
    assert (attempt.last_seq, attempt.last_saved_at) == (1, received)


@pytest.mark.parametrize("peer", ["203.0.113.7", "10.0.1.5"], ids=["elsewhere", "next-network"])
async def test_the_same_stamp_from_an_untrusted_client_is_ignored(
    app: Any, session: AsyncSession, clock: FrozenClock, peer: str
) -> None:
    transport = httpx2.ASGITransport(app=app, client=(peer, 40000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://exambank.test") as client:
        setup = await make_exam_setup(session, shuffle=False, time_limit_seconds=LIMIT, now=clock.now())
        examinee = setup.examinees[0]
        start = await start_attempt(client, setup, examinee)
        sent = clock.advance(seconds=LIMIT + GRACE - 2)
        clock.advance(seconds=20)

        reply = await _save(client, start, examinee, 1, stamp(sent))

    assert reply.status_code == 409, reply.text
    assert "detail" in reply.json()
    assert (await _attempt(session, start)).last_seq == 0  # nothing saved


async def test_a_stamp_in_the_future_counts_as_now(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, shuffle=False, time_limit_seconds=LIMIT, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    now = clock.advance(seconds=60)

    # An hour ahead is past the grace: taken as given, it would be refused.
    reply = await _save(client, start, examinee, 1, stamp(now + timedelta(hours=1)))

    assert reply.status_code == 200, reply.text
    assert reply.json()["remaining_seconds"] == LIMIT - 60
    assert (await _attempt(session, start)).last_saved_at == now


async def test_a_stamp_older_than_the_bound_counts_from_the_bound(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, shuffle=False, time_limit_seconds=LIMIT, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    claimed = clock.advance(seconds=LIMIT - 100)
    now = clock.advance(seconds=100 + GRACE + 30)  # 30 s after the grace; the bound is 60 s before now

    reply = await _save(client, start, examinee, 1, stamp(claimed))

    assert reply.status_code == 200, reply.text
    assert (await _attempt(session, start)).last_saved_at == now - MAX_PROXY_DELAY


# Each would name a moment in the grace if it were read loosely.
MALFORMED = {
    "no-prefix": "{:.3f}",
    "unit": "t={:.3f}s",
    "spaces": "t = {:.3f}",
    "exponent": "t={:.6e}",
    "two": "t={:.3f}, t={:.3f}",
    "negative": "t=-{:.3f}",
    "words": "t=soon",
}


@pytest.mark.parametrize("form", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_stamp_is_ignored(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock, form: str
) -> None:
    setup = await make_exam_setup(session, shuffle=False, time_limit_seconds=LIMIT, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    inside = clock.advance(seconds=LIMIT + GRACE - 2).timestamp()
    clock.advance(seconds=20)

    reply = await _save(client, start, examinee, 1, {"X-Request-Start": form.format(inside, inside)})

    assert reply.status_code == 409, reply.text
    assert (await _attempt(session, start)).last_seq == 0


async def test_two_stamps_are_ignored(client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock) -> None:
    setup = await make_exam_setup(session, shuffle=False, time_limit_seconds=LIMIT, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    inside = stamp(clock.advance(seconds=LIMIT + GRACE - 2))["X-Request-Start"]
    clock.advance(seconds=20)

    reply = await client.put(
        f"/api/attempts/{start['attempt_id']}/answers",
        json={"seq": 1, "answers": {"1": ["B"]}},
        headers=[*examinee.headers.items(), ("X-Request-Start", inside), ("X-Request-Start", inside)],
    )

    assert reply.status_code == 409, reply.text


async def test_the_sweeper_waits_for_what_the_proxy_may_still_hold(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock, settings: Settings
) -> None:
    setup = await make_exam_setup(session, shuffle=False, time_limit_seconds=LIMIT, now=clock.now())
    examinee = setup.examinees[0]
    deadline = clock.now() + timedelta(seconds=LIMIT)
    start = await start_attempt(client, setup, examinee)
    received = clock.advance(seconds=LIMIT + GRACE - 2)
    # It reaches the server 50 s later: past the grace and the server's own in-flight wait.
    now = clock.advance(seconds=50)
    assert now - deadline > timedelta(seconds=GRACE + IN_FLIGHT_SECONDS)
    alone = settings.model_copy(update={"trusted_proxies": ()})
    assert await sweep_batch(session, now=clock.now(), grace_seconds=sweep_grace_seconds(settings)) == []

    reply = await _save(client, start, examinee, 1, stamp(received))

    assert reply.status_code == 200, reply.text
    assert (await _attempt(session, start)).last_saved_at == received
    # Without a trusted proxy the sweeper would have submitted it by now.
    assert await sweep_batch(session, now=clock.now(), grace_seconds=sweep_grace_seconds(alone)) == [
        start["attempt_id"]
    ]
