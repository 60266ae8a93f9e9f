"""Marked questions (标记) are stored with the save that carries them and come back on resume, on any device."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import FrozenClock
from app.exams.room.flags import AttemptFlags
from tests.exams.factories_attempts import make_exam_setup, path_start
from tests.factories import auth_headers


async def _save(client: httpx2.AsyncClient, attempt_id: int, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return await client.put(f"/api/attempts/{attempt_id}/answers", json=body, headers=headers)


async def test_flags_are_saved_with_the_answers_and_resume_on_another_device(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = (await client.post(path_start(setup), headers=examinee.headers)).json()
    attempt_id = start["attempt_id"]
    assert start["flags"] == []

    plain = await _save(client, attempt_id, examinee.headers, {"seq": 1, "answers": {"1": ["A"]}})
    marked = await _save(client, attempt_id, examinee.headers, {"seq": 2, "answers": {}, "flags": [3, 1, 3]})
    assert plain.json()["saved"] is True and marked.json()["saved"] is True
    state = (await client.get(f"/api/attempts/{attempt_id}", headers=examinee.headers)).json()
    assert state["flags"] == [1, 3]
    assert state["answers"] == {"1": ["A"]}

    # a save without flags leaves them; an older seq changes nothing, flags included
    await _save(client, attempt_id, examinee.headers, {"seq": 3, "answers": {"2": ["B"]}})
    stale = await _save(client, attempt_id, examinee.headers, {"seq": 2, "answers": {}, "flags": []})
    assert stale.json()["saved"] is False

    phone = await auth_headers(session, examinee.user, now=clock.now())
    resumed = (await client.post(path_start(setup), headers=phone)).json()
    assert resumed["attempt_id"] == attempt_id
    assert resumed["flags"] == [1, 3]

    # the old device was taken over: its flags are refused like its answers
    refused = await _save(client, attempt_id, examinee.headers, {"seq": 9, "answers": {}, "flags": [2]})
    assert refused.status_code == 409
    cleared = await _save(client, attempt_id, phone, {"seq": resumed["last_seq"] + 1, "answers": {}, "flags": []})
    assert cleared.json()["saved"] is True
    assert (await client.get(f"/api/attempts/{attempt_id}", headers=phone)).json()["flags"] == []


async def test_bad_flags_are_refused_and_change_nothing(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = (await client.post(path_start(setup), headers=examinee.headers)).json()
    bad = await _save(client, start["attempt_id"], examinee.headers, {"seq": 1, "answers": {"1": ["A"]}, "flags": [0]})
    assert bad.status_code == 422
    assert "flags" in bad.text
    rows = await session.scalar(select(func.count()).select_from(AttemptFlags))
    assert rows == 0
    state = (await client.get(f"/api/attempts/{start['attempt_id']}", headers=examinee.headers)).json()
    assert state["last_seq"] == 0 and state["answers"] == {}
