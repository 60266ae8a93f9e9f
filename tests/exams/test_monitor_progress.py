"""The live monitor: counts per unit and per examinee, and who may watch which unit."""

from __future__ import annotations

from datetime import datetime

import httpx2
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.core.clock import FrozenClock
from app.exams.models import Absence
from tests.exams.factories_attempts import make_exam_setup, path_start
from tests.factories import headers_for


async def test_the_monitor_counts_each_state_per_unit(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, units=2, examinees_per_unit=4, time_limit_seconds=1200, now=clock.now())
    a1, a2, a3, a4, b1, b2, _b3, b4 = setup.examinees
    starts = {}
    for examinee in (a1, a2, a3, b1):
        starts[examinee.participant.id] = (await client.post(path_start(setup), headers=examinee.headers)).json()
    saved_at = clock.advance(seconds=100)
    saved = await client.put(
        f"/api/attempts/{starts[a1.participant.id]['attempt_id']}/answers",
        json={"seq": 1, "answers": {"1": ["A"]}},
        headers=a1.headers,
    )
    assert saved.status_code == 200
    await client.post(f"/api/attempts/{starts[a2.participant.id]['attempt_id']}/submit", headers=a2.headers)
    await session.execute(
        insert(Absence),
        [
            {"exam_id": setup.exam.id, "cadre_id": e.cadre.id, "unit_id": e.cadre.unit_id, "reason": "因病"}
            for e in (a4, b2)
        ],
    )
    await session.commit()
    clock.advance(seconds=100)

    response = await client.get(f"/api/exams/{setup.exam.id}/monitor", headers=await headers_for(session, Role.proctor))

    assert response.status_code == 200, response.text
    body = response.json()
    counts = {
        u["unit_id"]: {k: u[k] for k in ("participants", "not_started", "in_progress", "submitted", "absent")}
        for u in body["units"]
    }
    unit_a, unit_b = (u.id for u in setup.units)
    assert counts == {
        unit_a: {"participants": 4, "not_started": 0, "in_progress": 2, "submitted": 1, "absent": 1},
        unit_b: {"participants": 4, "not_started": 2, "in_progress": 1, "submitted": 0, "absent": 1},
    }
    assert body["totals"] == {"participants": 8, "not_started": 2, "in_progress": 3, "submitted": 1, "absent": 2}
    lines = {line["participant_id"]: line for line in body["examinees"]}
    first = lines[a1.participant.id]
    assert first["state"] == "in_progress" and first["remaining_seconds"] == 1000
    assert datetime.fromisoformat(first["last_saved_at"]) == saved_at
    assert lines[a3.participant.id]["last_saved_at"] is None
    assert lines[a2.participant.id]["remaining_seconds"] is None
    assert lines[a2.participant.id]["submit_reason"] == "examinee"
    assert lines[b4.participant.id]["state"] == "not_started" and lines[b4.participant.id]["attempt_id"] is None


async def test_a_unit_admin_watches_only_his_unit_and_examinees_not_at_all(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, units=2, now=clock.now())
    unit_a, unit_b = setup.units
    admin = await headers_for(session, Role.unit_admin, unit_id=unit_a.id)
    path = f"/api/exams/{setup.exam.id}/monitor"

    own = await client.get(path, headers=admin)
    other = await client.get(f"{path}?unit_id={unit_b.id}", headers=admin)
    examinee = await client.get(path, headers=setup.examinees[0].headers)
    organiser = await client.get(
        f"{path}?unit_id={unit_b.id}&examinees=false", headers=await headers_for(session, Role.organiser)
    )

    assert own.status_code == 200 and [u["unit_id"] for u in own.json()["units"]] == [unit_a.id]
    assert [e["unit_id"] for e in own.json()["examinees"]] == [unit_a.id]
    assert other.status_code == 403
    assert examinee.status_code == 403
    assert [u["unit_id"] for u in organiser.json()["units"]] == [unit_b.id] and organiser.json()["examinees"] == []
