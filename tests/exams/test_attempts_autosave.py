"""Autosave: merging, the ``seq`` guard, validation, the deadline and its grace, the one-device rule."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import FrozenClock
from app.exams.models import Attempt, AttemptAnswer
from tests.exams.factories_attempts import (
    make_exam_setup,
    paper_key_of,
    path_start,
    right_answers,
    shown_to_paper,
    start_attempt,
)
from tests.factories import auth_headers

GRACE = 10  # settings.save_grace_seconds


async def _save(
    client: httpx2.AsyncClient, start: dict[str, Any], headers: dict[str, str], seq: int, answers: dict[str, Any]
) -> httpx2.Response:
    return await client.put(
        f"/api/attempts/{start['attempt_id']}/answers", json={"seq": seq, "answers": answers}, headers=headers
    )


async def _state(client: httpx2.AsyncClient, start: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"/api/attempts/{start['attempt_id']}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_saves_merge_and_are_stored_in_the_papers_keys(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    sheet = right_answers(setup, start)
    first, second = dict(list(sheet.items())[:3]), dict(list(sheet.items())[3:])

    one = await _save(client, start, examinee.headers, 1, first)
    two = await _save(client, start, examinee.headers, 2, second)

    assert one.status_code == 200 and one.json()["saved"] is True
    assert two.json() == {
        "saved": True, "last_seq": 2, "saved_at": two.json()["saved_at"], "remaining_seconds": 1800,
        "deadline_at": start["deadline_at"],
    }  # fmt: skip
    assert (await _state(client, start, examinee.headers))["answers"] == sheet
    stored = dict(
        (await session.execute(
            select(AttemptAnswer.position, AttemptAnswer.keys).where(AttemptAnswer.attempt_id == start["attempt_id"])
        )).all()
    )  # fmt: skip
    assert stored == paper_key_of(setup)


async def test_a_save_with_an_older_seq_is_ignored_and_says_so(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, shuffle=False, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)

    assert (await _save(client, start, examinee.headers, 5, {"1": ["C"]})).json()["saved"] is True
    late = await _save(client, start, examinee.headers, 4, {"1": ["A"], "2": ["A"]})
    retry = await _save(client, start, examinee.headers, 5, {"1": ["C"]})

    assert late.status_code == 200
    assert late.json() == {"saved": False, "ignored": "stale seq", "last_seq": 5}
    assert retry.json() == {"saved": False, "ignored": "stale seq", "last_seq": 5}
    assert (await _state(client, start, examinee.headers))["answers"] == {"1": ["C"]}


async def test_an_empty_list_clears_an_answer(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, shuffle=False, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    await _save(client, start, examinee.headers, 1, {"1": ["B"], "3": ["A", "C"]})

    await _save(client, start, examinee.headers, 2, {"3": []})

    assert (await _state(client, start, examinee.headers))["answers"] == {"1": ["B"]}


async def test_invalid_answers_are_refused_naming_the_question_and_nothing_changes(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, shuffle=False, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    await _save(client, start, examinee.headers, 1, {"1": ["B"]})

    for seq, answers, field in (
        (2, {"1": ["A"], "2": ["Z"]}, "2"),  # no option Z
        (3, {"1": ["A", "B"]}, "1"),  # single takes one key
        (4, {"5": ["A"]}, "5"),  # judge takes T/F
        (5, {"5": ["T", "F"]}, "5"),
        (6, {"7": ["A"]}, "7"),  # no question 7
        (7, {"one": ["A"]}, "one"),
        (8, {"4": ["E", "F"]}, "4"),  # question 4 has five options: A–E
    ):
        response = await _save(client, start, examinee.headers, seq, answers)
        assert response.status_code == 422, (answers, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", "answers", field]

    state = await _state(client, start, examinee.headers)
    assert state["answers"] == {"1": ["B"]}
    assert state["last_seq"] == 1


async def test_the_deadline_boundary_before_in_the_grace_and_after(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, shuffle=False, time_limit_seconds=600, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)

    clock.advance(seconds=599)
    just_before = await _save(client, start, examinee.headers, 1, {"1": ["B"]})
    clock.advance(seconds=1 + GRACE)  # exactly at the end of the grace: still taken
    in_grace = await _save(client, start, examinee.headers, 2, {"2": ["D"]})
    clock.advance(seconds=1)
    after = await _save(client, start, examinee.headers, 3, {"3": ["A", "C"]})

    assert just_before.json()["saved"] is True and just_before.json()["remaining_seconds"] == 1
    assert in_grace.json()["saved"] is True and in_grace.json()["remaining_seconds"] == 0
    assert after.status_code == 409
    attempt = await session.scalar(select(Attempt).where(Attempt.id == start["attempt_id"]))
    assert attempt is not None
    await session.refresh(attempt)
    # The refused save changed nothing, and the attempt was submitted on the way with what was saved.
    assert (attempt.status, attempt.submit_reason, attempt.last_seq, attempt.score) == ("submitted", "deadline", 2, 4.0)
    assert (await _state(client, start, examinee.headers))["answers"] == {"1": ["B"], "2": ["D"]}


async def test_a_save_after_submission_is_refused(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    await client.post(f"/api/attempts/{start['attempt_id']}/submit", headers=examinee.headers)

    response = await _save(client, start, examinee.headers, 1, {"1": ["A"]})

    assert response.status_code == 409
    assert "submitted" in response.json()["detail"]


async def test_the_newest_device_takes_the_attempt_over(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, shuffle=False, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    await _save(client, start, examinee.headers, 1, {"1": ["A"]})
    laptop = await auth_headers(session, examinee.user, now=clock.now())

    resumed = await client.post(path_start(setup), headers=laptop)
    from_old_device = await _save(client, start, examinee.headers, 2, {"1": ["C"]})
    submit_old = await client.post(f"/api/attempts/{start['attempt_id']}/submit", headers=examinee.headers)
    from_new_device = await _save(client, start, laptop, resumed.json()["last_seq"] + 1, {"2": ["D"]})

    assert resumed.json()["attempt_id"] == start["attempt_id"]
    assert resumed.json()["answers"] == {"1": ["A"]}
    assert from_old_device.status_code == 409 and "another device" in from_old_device.json()["detail"]
    assert submit_old.status_code == 409
    assert from_new_device.json()["saved"] is True
    assert (await _state(client, start, laptop))["answers"] == {"1": ["A"], "2": ["D"]}
    # Starting again on the first device takes it back.
    await client.post(path_start(setup), headers=examinee.headers)
    assert (await _save(client, start, examinee.headers, 9, {"1": ["C"]})).json()["saved"] is True


async def test_someone_elses_attempt_is_not_found(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=2, now=clock.now())
    mine, theirs = setup.examinees
    start = await start_attempt(client, setup, mine)

    assert (await _save(client, start, theirs.headers, 1, {"1": ["A"]})).status_code == 404
    assert (await client.get(f"/api/attempts/{start['attempt_id']}", headers=theirs.headers)).status_code == 404
    assert (await client.post(f"/api/attempts/{start['attempt_id']}/submit", headers=theirs.headers)).status_code == 404


async def test_shuffled_letters_map_back_to_the_papers_keys(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=4, now=clock.now())
    for examinee in setup.examinees:
        start = await start_attempt(client, setup, examinee)
        # Pick the option whose text is 选项A for every choice question, whatever letter it shows under.
        picks: dict[str, list[str]] = {}
        for question in start["questions"]:
            if question["type"] != "judge":
                picks[str(question["no"])] = [o["key"] for o in question["options"] if o["text"] == "选项A"]
        await _save(client, start, examinee.headers, 1, picks)
        stored = dict(
            (await session.execute(
                select(AttemptAnswer.position, AttemptAnswer.keys).where(
                    AttemptAnswer.attempt_id == start["attempt_id"], AttemptAnswer.keys != ""
                )
            )).all()
        )  # fmt: skip
        assert stored == dict.fromkeys((shown_to_paper(start)[int(n)] for n in picks), "A")
