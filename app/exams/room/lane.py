"""The exam room on the hot-path lane (``app.core.lane``): first start, autosave and submit.

Thousands of examinees start in the same minute, save every few seconds and submit at the same second;
Python CPU per request decides how many one server carries. These handlers parse the request, call the
exam room (``app.exams.room.room``, whose statements authenticate the caller inside their own claim) and
answer with JSON serialised once. Whatever the room does not settle — every refusal and its explanation,
a resume, an overdue attempt, a practice review — goes on to the routes of
``app.exams.room.attempts_router``, which call the same room and answer exactly as if the lane were not
there.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.accounts.dependencies import SESSION_COOKIE
from app.core.lane import LaneCall, LaneReply, LaneRoute
from app.core.security import token_digest
from app.exams.room import room
from app.exams.room.attempt_schemas import AnswersSave, SaveResult, SubmitReason
from app.exams.room.rules import IN_PROGRESS, SUBMITTED

_JSON = TypeAdapter(dict[str, Any])


async def save(call: LaneCall) -> LaneReply | None:
    """``PUT /api/attempts/{attempt_id}/answers`` when the claim holds."""
    token = call.bearer_token(SESSION_COOKIE)
    if not token:
        return None
    try:
        body = AnswersSave.model_validate_json(call.body)
    except ValidationError:
        return None
    if body.flags is not None:  # the marks have their own small write: the route does it
        return None
    now = call.arrived_at
    claim = room.SaveClaim(
        attempt_id=int(call.params["attempt_id"]), digest=token_digest(token), seq=body.seq, answers=body.answers,
        now=now, grace_seconds=call.state.settings.save_grace_seconds,
    )  # fmt: skip
    deadline_at = await room.claim_save(call, room.Scorings.of(call.state), claim)
    if deadline_at is None:
        return None
    reply = SaveResult(
        saved=True,
        last_seq=body.seq,
        saved_at=now,
        remaining_seconds=room.remaining_seconds(deadline_at, now),
        deadline_at=deadline_at,
    )
    return LaneReply(reply.model_dump_json(exclude_none=True).encode())


async def submit(call: LaneCall) -> LaneReply | None:
    """``POST /api/attempts/{attempt_id}/submit`` for an open formal attempt submitted in time."""
    token = call.bearer_token(SESSION_COOKIE)
    if not token:
        return None
    attempt_id, now = int(call.params["attempt_id"]), call.arrived_at
    claimed = await room.claim_submit(
        call, attempt_id=attempt_id, digest=token_digest(token), now=now,
        grace_seconds=call.state.settings.save_grace_seconds,
    )  # fmt: skip
    if not claimed:
        return None
    reply = {
        "attempt_id": attempt_id, "status": SUBMITTED, "submitted_at": now,
        "submit_reason": str(SubmitReason.examinee), "result": None,
    }  # fmt: skip
    return LaneReply(_JSON.dump_json(reply))


async def start(call: LaneCall) -> LaneReply | None:
    """``POST /api/exams/{exam_id}/attempts`` for an examinee's first attempt at an open exam."""
    token = call.bearer_token(SESSION_COOKIE)
    if not token:
        return None
    exam_id, now = int(call.params["exam_id"]), call.arrived_at
    started = await room.first_start(call, exam_id=exam_id, digest=token_digest(token), now=now)
    if started is None:  # not a first start, or the exam just closed: the route says what it is
        return None
    # This process will most likely take the attempt's saves: it knows how to score them already.
    room.Scorings.of(call.state).remember(started.attempt_id, started.scoring)
    planned = started.planned
    reply = {
        "attempt_id": started.attempt_id, "exam_id": exam_id, "attempt_no": 1, "mode": started.mode,
        "status": IN_PROGRESS, "started_at": now, "deadline_at": planned.deadline_at,
        "remaining_seconds": room.remaining_seconds(planned.deadline_at, now), "last_seq": 0, "answers": {},
        "flags": [],
    }  # fmt: skip
    presentation = planned.presentation
    questions = planned.paper.shown_questions_json(presentation.question_order, presentation.option_orders)
    return LaneReply(_JSON.dump_json(reply)[:-1] + b',"questions":' + questions + b"}")


LANE_ROUTES = (
    LaneRoute("PUT", "/api/attempts/{attempt_id}/answers", save),
    LaneRoute("POST", "/api/exams/{exam_id}/attempts", start),
    LaneRoute("POST", "/api/attempts/{attempt_id}/submit", submit),
)
