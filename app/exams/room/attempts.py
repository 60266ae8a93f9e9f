"""Taking an exam: start or resume, autosave, submit (by the examinee, at the deadline, on close, after too
many focus losses) and the examinee's result.

Rules decided here (documented in API terms in ``attempts_router``):

* The database is the truth: every acknowledged save is committed before the reply (the router commits
  explicitly, see ``commit_before_reply``), so a crash loses nothing acknowledged.
* One conditional ``UPDATE attempts … WHERE last_seq < :seq AND status = 'in_progress' AND deadline ok
  … RETURNING`` serialises saves of one attempt (it locks the row); a save whose ``seq`` is not above the
  stored one is ignored and the reply says so.
* An attempt belongs to the login session that last started or resumed it (``session_digest``): starting
  again on another device takes the attempt over, and saves or submits from the older session get 409
  “opened on another device”, so two devices never overwrite each other unnoticed.
* Every answer is scored when it is saved, with the key read in the save's own statement, so grading at
  submission is a set-based sum (``app.grading.service.grade_attempts``).
* Submission is a conditional ``UPDATE … WHERE status = 'in_progress' RETURNING id``: whoever flips the
  status (the examinee, the sweeper of any process, close, the lazy check) grades, exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.bank.models import QuestionType, QuestionVersion
from app.core.audit import record_audit
from app.core.db import UTCDateTime
from app.core.errors import ConflictError, ForbiddenError, NotFoundError, UnprocessableError, field_error
from app.exams.exam_rules import (
    ExamRow,
    ensure_can_manage_exam,
    ensure_exam_open,
    is_practice,
    load_exam,
    results_published,
)
from app.exams.models import (
    Absence,
    Attempt,
    AttemptAnswer,
    AttemptStatus,
    Exam,
    ExamStatus,
    Participant,
)
from app.exams.room import shuffling
from app.exams.room.attempt_schemas import (
    AttemptResult,
    AttemptStart,
    AttemptState,
    QuestionShown,
    ReviewQuestion,
    SaveResult,
    SubmitReason,
    SubmitResult,
)
from app.exams.room.served_paper import ServedPaper, served_paper
from app.grading import service as grading
from app.grading.scorers import encode_keys, score_answer
from app.papers.models import Paper, PaperSlot

ATTEMPTS = cast(Table, Attempt.__table__)
ANSWERS = cast(Table, AttemptAnswer.__table__)
PARTICIPANTS = cast(Table, Participant.__table__)
PAPERS = cast(Table, Paper.__table__)
PAPER_SLOTS = cast(Table, PaperSlot.__table__)
ABSENCES = cast(Table, Absence.__table__)
EXAMS = cast(Table, Exam.__table__)

IN_PROGRESS = str(AttemptStatus.in_progress)
SUBMITTED = str(AttemptStatus.submitted)
PASS_SHARE = 0.6
EXCELLENT_SHARE = 0.9
AttemptRow = Row[*tuple[Any, ...]]
OTHER_DEVICE = "本场考试已在其他设备上打开 (this exam was opened on another device)"


def remaining_seconds(deadline_at: datetime, now: datetime) -> int:
    return max(0, int((deadline_at - now).total_seconds()))


def is_overdue(deadline_at: datetime, now: datetime, grace_seconds: float) -> bool:
    """Past the deadline and its grace: saves are refused and the attempt is due for submission."""
    return now > deadline_at + timedelta(seconds=grace_seconds)


def _own_participant(user_id: int) -> Any:
    return select(PARTICIPANTS.c.id).where(PARTICIPANTS.c.user_id == user_id).scalar_subquery()


# Submission and grading ------------------------------------------------------------------------------


async def claim_and_grade(session: AsyncSession, *conditions: Any, reason: SubmitReason, now: datetime) -> list[int]:
    """Submit every in-progress attempt matching ``conditions`` and grade them; returns their ids.

    The status flip is the claim: concurrent claimers (other processes' sweepers, close, the examinee)
    never get the same attempt, so none is graded twice.
    """
    claimed = (
        (
            await session.execute(
                update(ATTEMPTS)
                .where(ATTEMPTS.c.status == IN_PROGRESS, *conditions)
                .values(status=SUBMITTED, submitted_at=now, submit_reason=str(reason))
                .returning(ATTEMPTS.c.id)
            )
        )
        .scalars()
        .all()
    )
    ids = list(claimed)
    if ids:
        await grading.grade_attempts(session, ids, now=now)
    return ids


async def submit_if_overdue(session: AsyncSession, attempt_id: int, *, now: datetime, grace_seconds: float) -> bool:
    """The lazy check: submit the attempt when its deadline and grace have passed."""
    cutoff = now - timedelta(seconds=grace_seconds)
    ids = await claim_and_grade(
        session, ATTEMPTS.c.id == attempt_id, ATTEMPTS.c.deadline_at < cutoff, reason=SubmitReason.deadline, now=now
    )
    return bool(ids)


async def _lazy_submit(session: AsyncSession, attempt: AttemptRow, *, now: datetime, grace_seconds: float) -> bool:
    """The lazy check on a read: submit the attempt when it is overdue."""
    if attempt.status != IN_PROGRESS or not is_overdue(attempt.deadline_at, now, grace_seconds):
        return False
    # A GET reads in a deferred transaction, and SQLite cannot turn a read snapshot into a write once
    # another writer has committed: end the snapshot so the submission starts its own transaction.
    await session.commit()
    return await submit_if_overdue(session, attempt.id, now=now, grace_seconds=grace_seconds)


# Start or resume -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Examinee:
    participant_id: int
    cadre_id: int
    unit_id: int
    absent: bool
    paper_id: int | None
    paper_stamp: datetime | None
    extra_time_seconds: int = 0


_EXAMINEE = select(
    PARTICIPANTS.c.id,
    PARTICIPANTS.c.cadre_id,
    PARTICIPANTS.c.unit_id,
    PARTICIPANTS.c.extra_time_seconds,
    select(ABSENCES.c.id)
    .where(ABSENCES.c.exam_id == PARTICIPANTS.c.exam_id, ABSENCES.c.cadre_id == PARTICIPANTS.c.cadre_id)
    .limit(1)
    .scalar_subquery()
    .label("absence_id"),
    select(PAPERS.c.id)
    .where(PAPERS.c.exam_id == PARTICIPANTS.c.exam_id, PAPERS.c.unit_id == PARTICIPANTS.c.unit_id)
    .scalar_subquery()
    .label("paper_id"),
    select(PAPERS.c.created_at)
    .where(PAPERS.c.exam_id == PARTICIPANTS.c.exam_id, PAPERS.c.unit_id == PARTICIPANTS.c.unit_id)
    .scalar_subquery()
    .label("paper_stamp"),
).where(PARTICIPANTS.c.exam_id == bindparam("b_exam_id"), PARTICIPANTS.c.user_id == bindparam("b_user_id"))


async def _examinee_of(session: AsyncSession, exam_id: int, principal: Principal) -> _Examinee:
    """The caller's participant row, whether he is recorded absent, and his unit's paper."""
    row = (await session.execute(_EXAMINEE, {"b_exam_id": exam_id, "b_user_id": principal.id})).one_or_none()
    if row is None:
        raise ForbiddenError("你不是本场考试的考生 (you are not an examinee of this exam)")
    return _Examinee(
        participant_id=row.id,
        cadre_id=row.cadre_id,
        unit_id=row.unit_id,
        absent=row.absence_id is not None,
        paper_id=row.paper_id,
        paper_stamp=row.paper_stamp,
        extra_time_seconds=row.extra_time_seconds,
    )


_ATTEMPT_COLUMNS = (
    ATTEMPTS.c.id,
    ATTEMPTS.c.exam_id,
    ATTEMPTS.c.participant_id,
    ATTEMPTS.c.paper_id,
    ATTEMPTS.c.unit_id,
    ATTEMPTS.c.attempt_no,
    ATTEMPTS.c.status,
    ATTEMPTS.c.started_at,
    ATTEMPTS.c.deadline_at,
    ATTEMPTS.c.submitted_at,
    ATTEMPTS.c.submit_reason,
    ATTEMPTS.c.last_seq,
    ATTEMPTS.c.last_saved_at,
    ATTEMPTS.c.question_order,
    ATTEMPTS.c.option_orders,
    ATTEMPTS.c.score,
    ATTEMPTS.c.session_digest,
    ATTEMPTS.c.focus_losses,
)


_LATEST_ATTEMPT = (
    select(*_ATTEMPT_COLUMNS)
    .where(ATTEMPTS.c.participant_id == bindparam("b_participant_id"))
    .order_by(ATTEMPTS.c.attempt_no.desc())
    .limit(1)
)


async def _latest_attempt(session: AsyncSession, participant_id: int) -> AttemptRow | None:
    return (await session.execute(_LATEST_ATTEMPT, {"b_participant_id": participant_id})).one_or_none()


async def _attempt_by_id(session: AsyncSession, attempt_id: int) -> AttemptRow | None:
    return (await session.execute(select(*_ATTEMPT_COLUMNS).where(ATTEMPTS.c.id == attempt_id))).one_or_none()


async def _stored_answers(session: AsyncSession, attempt_id: int) -> dict[int, str]:
    rows = await session.execute(
        select(ANSWERS.c.position, ANSWERS.c["keys"]).where(ANSWERS.c.attempt_id == attempt_id, ANSWERS.c["keys"] != "")
    )
    return {row[0]: row[1] for row in rows}


def _displayed_answers(
    paper: ServedPaper,
    question_order: Sequence[int],
    option_orders: Mapping[str, Sequence[str]],
    stored: Mapping[int, str],
) -> dict[str, list[str]]:
    answers: dict[str, list[str]] = {}
    for shown_no, paper_no in enumerate(question_order, start=1):
        keys = stored.get(paper_no)
        question = paper.questions.get(paper_no)
        if keys and question is not None:
            order = option_orders.get(str(paper_no), question.option_keys)
            answers[str(shown_no)] = shuffling.to_displayed_keys(question.type, order, keys)
    return answers


def shown_questions(
    paper: ServedPaper, question_order: Sequence[int], option_orders: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    """The questions as this examinee sees them (``QuestionShown`` fields): his order, his letters."""
    return [
        paper.shown_question(shown_no, no, option_orders.get(str(no), paper.questions[no].option_keys))
        for shown_no, no in enumerate(question_order, start=1)
    ]


def presentation_for(exam: Any, paper: ServedPaper, participant_id: int, attempt_no: int) -> tuple[int, Any]:
    """The attempt's shuffle seed and its (seeded, reproducible) question and option order."""
    seed = shuffling.attempt_seed(exam.seed, participant_id, attempt_no)
    presentation = paper.presentation_plan.draw(
        seed, shuffle_questions=exam.shuffle_questions, shuffle_options=exam.shuffle_options
    )
    return seed, presentation


def deadline_for(exam: Any, started_at: datetime, extra_time_seconds: int = 0) -> datetime:
    """The deadline of an attempt started at ``started_at``: the earlier of start + the time limit and the
    exam's closing time, both moved by the examinee's extra time."""
    extra = timedelta(seconds=extra_time_seconds)
    deadline_at = started_at + timedelta(seconds=exam.time_limit_seconds) + extra
    if exam.closes_at is not None:
        deadline_at = min(deadline_at, exam.closes_at + extra)
    return deadline_at


async def _start_view(
    session: AsyncSession,
    attempt: Any,
    exam: ExamRow,
    *,
    now: datetime,
    answers: Mapping[int, str],
    paper: ServedPaper | None = None,
) -> AttemptStart:
    """The start payload; ``attempt`` is a row of the attempt or the values it was just inserted with."""
    paper = paper or await served_paper(session, attempt.paper_id)
    return AttemptStart(
        attempt_id=attempt.id,
        exam_id=attempt.exam_id,
        attempt_no=attempt.attempt_no,
        mode=exam.mode,
        status=attempt.status,
        started_at=attempt.started_at,
        deadline_at=attempt.deadline_at,
        remaining_seconds=remaining_seconds(attempt.deadline_at, now),
        last_seq=attempt.last_seq,
        questions=[
            QuestionShown.model_validate(q)
            for q in shown_questions(paper, attempt.question_order, attempt.option_orders)
        ],
        answers=_displayed_answers(paper, attempt.question_order, attempt.option_orders, answers),
    )


async def _take_over(session: AsyncSession, attempt_id: int, principal: Principal) -> None:
    await session.execute(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.id == attempt_id, ATTEMPTS.c.session_digest.is_distinct_from(principal.session_digest))
        .values(session_digest=principal.session_digest)
    )


async def _resume(
    session: AsyncSession, attempt: AttemptRow, exam: ExamRow, principal: Principal, now: datetime
) -> AttemptStart:
    await _take_over(session, attempt.id, principal)
    return await _start_view(session, attempt, exam, now=now, answers=await _stored_answers(session, attempt.id))


async def start_attempt(
    session: AsyncSession, *, exam_id: int, principal: Principal, now: datetime, grace_seconds: float
) -> AttemptStart:
    """Start the caller's attempt, or resume his open one (taking it over from any other session)."""
    # A share lock on the exam row: closing the exam (which locks it for update) waits for starts in
    # flight, and starts after a close see it closed.
    exam = await load_exam(session, exam_id, lock="share")
    examinee = await _examinee_of(session, exam_id, principal)
    latest = await _latest_attempt(session, examinee.participant_id)
    if latest is not None and latest.status == IN_PROGRESS:
        if exam.status in (ExamStatus.closed, ExamStatus.published):
            await claim_and_grade(session, ATTEMPTS.c.id == latest.id, reason=SubmitReason.closed, now=now)
            raise ConflictError("考试已结束 (the exam is closed)")
        if not await submit_if_overdue(session, latest.id, now=now, grace_seconds=grace_seconds):
            return await _resume(session, latest, exam, principal, now)
    ensure_exam_open(exam, now, examinee.extra_time_seconds)
    used = latest.attempt_no if latest is not None else 0
    if used >= exam.max_attempts:
        if used == 1:
            raise ConflictError("你已交卷 (you have already submitted this exam)")
        raise ConflictError(f"练习次数已用完 (all {exam.max_attempts} attempts are used)")
    if examinee.absent:
        raise ConflictError("你已被记录为缺考 (you are recorded absent; ask the proctor)")
    return await _create_attempt(session, exam, examinee, principal, attempt_no=used + 1, now=now)


async def _create_attempt(
    session: AsyncSession, exam: ExamRow, examinee: _Examinee, principal: Principal, *, attempt_no: int, now: datetime
) -> AttemptStart:
    if examinee.paper_id is None:
        raise ConflictError("本单位试卷尚未抽取 (no paper has been drawn for your unit)")
    paper = await served_paper(session, examinee.paper_id, examinee.paper_stamp)
    seed, presentation = presentation_for(exam, paper, examinee.participant_id, attempt_no)
    deadline_at = deadline_for(exam, now, examinee.extra_time_seconds)
    values = {
        "exam_id": exam.id, "participant_id": examinee.participant_id, "paper_id": paper.id,
        "unit_id": examinee.unit_id, "attempt_no": attempt_no, "status": IN_PROGRESS, "started_at": now,
        "deadline_at": deadline_at, "last_seq": 0, "shuffle_seed": seed,
        "question_order": presentation.question_order, "option_orders": presentation.option_orders,
        "focus_losses": 0, "event_count": 0, "session_digest": principal.session_digest,
    }  # fmt: skip
    # Two starts at once (a double click, two devices): one inserts, the other resumes that attempt.
    inserted = await session.scalar(_INSERT_ATTEMPT[session.get_bind().dialect.name], values)
    if inserted is None:
        attempt = await _latest_attempt(session, examinee.participant_id)
        assert attempt is not None
        return await _resume(session, attempt, exam, principal, now)
    # No answer rows yet: each is written when its answer is first saved, and grading records the
    # questions left unanswered (``grading.service.grade_attempts``). Thousands start in the same minute;
    # their answers come over the half hour that follows.
    return await _start_view(session, SimpleNamespace(id=inserted, **values), exam, now=now, answers={}, paper=paper)


_INSERT_ATTEMPT = {
    dialect: insert_of(ATTEMPTS)
    .on_conflict_do_nothing(index_elements=["participant_id", "attempt_no"])
    .returning(ATTEMPTS.c.id)
    for dialect, insert_of in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}

# Attempt access --------------------------------------------------------------------------------------


async def _owner_user_id(session: AsyncSession, participant_id: int) -> int | None:
    return await session.scalar(select(PARTICIPANTS.c.user_id).where(PARTICIPANTS.c.id == participant_id))


async def owned_attempt(session: AsyncSession, attempt_id: int, principal: Principal) -> AttemptRow:
    """The caller's own attempt; 404 for any other (an examinee learns nothing about others' ids)."""
    attempt = await _attempt_by_id(session, attempt_id)
    if attempt is None or await _owner_user_id(session, attempt.participant_id) != principal.id:
        raise NotFoundError(f"答卷 {attempt_id} 不存在")
    return attempt


async def readable_attempt(session: AsyncSession, attempt_id: int, principal: Principal) -> tuple[AttemptRow, bool]:
    """The attempt and whether the caller reads it as its examinee (else as staff allowed to see it)."""
    attempt = await _attempt_by_id(session, attempt_id)
    if attempt is None:
        raise NotFoundError(f"答卷 {attempt_id} 不存在")
    if await _owner_user_id(session, attempt.participant_id) == principal.id:
        return attempt, True
    if principal.can_manage_unit(attempt.unit_id, Role.organiser):
        return attempt, False
    raise NotFoundError(f"答卷 {attempt_id} 不存在")


async def attempt_state(
    session: AsyncSession, *, attempt_id: int, principal: Principal, now: datetime, grace_seconds: float
) -> AttemptState:
    """The attempt's status, time left and saved answers (no score)."""
    attempt, _ = await readable_attempt(session, attempt_id, principal)
    if await _lazy_submit(session, attempt, now=now, grace_seconds=grace_seconds):
        attempt, _ = await readable_attempt(session, attempt_id, principal)
    paper = await served_paper(session, attempt.paper_id)
    answers = _displayed_answers(
        paper, attempt.question_order, attempt.option_orders, await _stored_answers(session, attempt_id)
    )
    return AttemptState(
        attempt_id=attempt.id,
        exam_id=attempt.exam_id,
        attempt_no=attempt.attempt_no,
        status=attempt.status,
        started_at=attempt.started_at,
        deadline_at=attempt.deadline_at,
        remaining_seconds=remaining_seconds(attempt.deadline_at, now) if attempt.status == IN_PROGRESS else 0,
        submitted_at=attempt.submitted_at,
        submit_reason=attempt.submit_reason,
        last_seq=attempt.last_seq,
        last_saved_at=attempt.last_saved_at,
        answers=answers,
    )


# Autosave --------------------------------------------------------------------------------------------


async def autosave_answers(
    session: AsyncSession,
    *,
    attempt_id: int,
    principal: Principal,
    seq: int,
    answers: Mapping[str, Sequence[str]],
    now: datetime,
    grace_seconds: float,
) -> SaveResult:
    """Merge answers into the attempt when ``seq`` is newer than the last stored one and time remains."""
    claimed = (
        await session.execute(
            _CLAIM_SAVE,
            {
                "b_attempt_id": attempt_id, "b_user_id": principal.id, "b_seq": seq, "b_now": now,
                "b_cutoff": now - timedelta(seconds=grace_seconds), "b_digest": principal.session_digest,
            },
        )
    ).one_or_none()  # fmt: skip
    if claimed is None:
        return await _explain_unsaved(session, attempt_id, principal, seq=seq, now=now, grace_seconds=grace_seconds)
    paper = await served_paper(session, claimed.paper_id, claimed.paper_stamp)
    scored = scored_answers(
        paper, claimed.question_order, claimed.option_orders, claimed.answer_key or {}, claimed.multiple_scoring,
        answers,
    )  # fmt: skip
    rows = [
        {
            "attempt_id": attempt_id, "position": position, "keys": keys, "seq": seq, "saved_at": now,
            "points": points, "is_correct": is_correct,
        }
        for position, keys, points, is_correct in scored
    ]
    if rows:
        await session.execute(_UPSERT_ANSWERS[session.get_bind().dialect.name], rows)
    return SaveResult(
        saved=True, last_seq=seq, saved_at=now, remaining_seconds=remaining_seconds(claimed.deadline_at, now),
        deadline_at=claimed.deadline_at,
    )


# Built once: the hot path only binds values (no statement construction or compilation per request).
_CLAIM_SAVE = (
    update(ATTEMPTS)
    .where(
        ATTEMPTS.c.id == bindparam("b_attempt_id"),
        ATTEMPTS.c.participant_id
        == select(PARTICIPANTS.c.id).where(PARTICIPANTS.c.user_id == bindparam("b_user_id")).scalar_subquery(),
        ATTEMPTS.c.status == IN_PROGRESS,
        ATTEMPTS.c.last_seq < bindparam("b_seq"),
        ATTEMPTS.c.deadline_at >= bindparam("b_cutoff", type_=UTCDateTime()),
        ATTEMPTS.c.session_digest == bindparam("b_digest"),
    )
    .values(last_seq=bindparam("b_seq"), last_saved_at=bindparam("b_now", type_=UTCDateTime()))
    .returning(
        ATTEMPTS.c.paper_id,
        ATTEMPTS.c.question_order,
        ATTEMPTS.c.option_orders,
        ATTEMPTS.c.deadline_at,
        select(PAPERS.c.answer_key).where(PAPERS.c.id == ATTEMPTS.c.paper_id).scalar_subquery().label("answer_key"),
        select(PAPERS.c.created_at).where(PAPERS.c.id == ATTEMPTS.c.paper_id).scalar_subquery().label("paper_stamp"),
        select(EXAMS.c.multiple_scoring)
        .where(EXAMS.c.id == ATTEMPTS.c.exam_id)
        .scalar_subquery()
        .label("multiple_scoring"),
    )
)


def _upsert_answers(statement: Any) -> Any:
    return statement.on_conflict_do_update(
        index_elements=["attempt_id", "position"],
        set_={
            "keys": statement.excluded["keys"],
            "seq": statement.excluded.seq,
            "saved_at": statement.excluded.saved_at,
            "points": statement.excluded.points,
            "is_correct": statement.excluded.is_correct,
        },
    )


_UPSERT_ANSWERS = {
    "sqlite": _upsert_answers(sqlite.insert(ANSWERS)),
    "postgresql": _upsert_answers(postgresql.insert(ANSWERS)),
}


# One validated answer in the paper's keys: its position (the paper's number), keys, points, correctness.
ScoredAnswer = tuple[int, str, float, bool]
_MULTIPLE = QuestionType.multiple.value


def scored_answers(
    paper: ServedPaper,
    question_order: Sequence[int],
    option_orders: Mapping[str, Sequence[str]],
    answer_key: Mapping[str, Sequence[str]],
    multiple_scoring: str,
    answers: Mapping[str, Sequence[str]],
) -> list[ScoredAnswer]:
    """The answers (in the examinee's numbers and letters) validated and scored; raises 422 naming the
    first bad question."""
    scored: list[ScoredAnswer] = []
    for shown_no, chosen in answers.items():
        try:
            index = int(shown_no)
        except ValueError:
            raise _bad_answer(shown_no, f"{shown_no!r} is not a question number") from None
        if not 1 <= index <= len(question_order):
            raise _bad_answer(shown_no, f"没有第 {shown_no} 题（题号 1–{len(question_order)}）")
        paper_no = question_order[index - 1]
        number = str(paper_no)
        question = paper.questions[paper_no]
        order = option_orders.get(number, question.option_keys)
        paper_keys = shuffling.to_paper_keys(question.type, order, chosen)
        if paper_keys is None:
            shown = "/".join(shuffling.displayed_keys(question.type, order))
            raise _bad_answer(shown_no, f"question {shown_no} has only the options {shown}")
        keys = encode_keys(paper_keys)
        if len(keys) > 1 and question.type != _MULTIPLE:
            raise _bad_answer(shown_no, f"question {shown_no} takes one answer")
        right = encode_keys(answer_key.get(number, ()))
        result = score_answer(question.type, keys, right, question.points, multiple_scoring)
        scored.append((paper_no, keys, result.points, result.is_correct))
    return scored


def _bad_answer(shown_no: str, message: str) -> UnprocessableError:
    return UnprocessableError(field_error(f"answers.{shown_no}", message))


async def _explain_unsaved(
    session: AsyncSession, attempt_id: int, principal: Principal, *, seq: int, now: datetime, grace_seconds: float
) -> SaveResult:
    attempt = await owned_attempt(session, attempt_id, principal)
    if attempt.status != IN_PROGRESS:
        raise ConflictError("已交卷，不能再保存 (the attempt is submitted; nothing was saved)")
    if is_overdue(attempt.deadline_at, now, grace_seconds):
        # Raised after a write on purpose: the router keeps submissions made on the way (see its docstring).
        await submit_if_overdue(session, attempt_id, now=now, grace_seconds=grace_seconds)
        raise ConflictError("考试时间已到 (time is up; the attempt was submitted with what was saved)")
    if attempt.session_digest != principal.session_digest:
        raise ConflictError(OTHER_DEVICE)
    return SaveResult(saved=False, ignored="stale seq", last_seq=attempt.last_seq)


# Submit ----------------------------------------------------------------------------------------------


async def submit_attempt(
    session: AsyncSession, *, attempt_id: int, principal: Principal, now: datetime, grace_seconds: float
) -> SubmitResult:
    """Submit the caller's attempt and grade it; submitting again answers the same."""
    attempt = await owned_attempt(session, attempt_id, principal)
    if attempt.status == IN_PROGRESS:
        if attempt.session_digest != principal.session_digest:
            raise ConflictError(OTHER_DEVICE)
        reason = SubmitReason.deadline if is_overdue(attempt.deadline_at, now, grace_seconds) else SubmitReason.examinee
        await claim_and_grade(session, ATTEMPTS.c.id == attempt_id, reason=reason, now=now)
        attempt = await owned_attempt(session, attempt_id, principal)
    exam = await load_exam(session, attempt.exam_id)
    result = None
    if is_practice(exam):
        result = await _result_view(session, attempt, exam, with_review=True)
    return SubmitResult(
        attempt_id=attempt.id,
        status=attempt.status,
        submitted_at=attempt.submitted_at,
        submit_reason=attempt.submit_reason,
        result=result,
    )


# Window changes ---------------------------------------------------------------------------------------


async def reclamp_open_deadlines(
    session: AsyncSession,
    *,
    exam_id: int,
    time_limit_seconds: int,
    closes_at: datetime | None,
    participant_ids: Sequence[int] | None = None,
) -> int:
    """After an exam's closing time (or time limit) or an examinee's extra time changed: every open attempt's
    deadline follows ``deadline_for`` again. Returns the attempts changed.

    For the exams service to call when it changes ``closes_at`` of an exam that has started, and for the
    participants service when it grants extra time (``participant_ids``: only theirs).
    """
    query = (
        select(ATTEMPTS.c.id, ATTEMPTS.c.started_at, ATTEMPTS.c.deadline_at, PARTICIPANTS.c.extra_time_seconds)
        .join(PARTICIPANTS, PARTICIPANTS.c.id == ATTEMPTS.c.participant_id)
        .where(ATTEMPTS.c.exam_id == exam_id, ATTEMPTS.c.status == IN_PROGRESS)
    )
    if participant_ids is not None:
        query = query.where(ATTEMPTS.c.participant_id.in_(list(participant_ids)))
    rows = (await session.execute(query)).all()
    window = SimpleNamespace(time_limit_seconds=time_limit_seconds, closes_at=closes_at)
    changes = []
    for row in rows:
        deadline = deadline_for(window, row.started_at, row.extra_time_seconds)
        if deadline != row.deadline_at:
            changes.append({"b_id": row.id, "b_deadline": deadline})
    if changes:
        await session.execute(
            update(ATTEMPTS)
            .where(ATTEMPTS.c.id == bindparam("b_id"), ATTEMPTS.c.status == IN_PROGRESS)
            .values(deadline_at=bindparam("b_deadline", type_=UTCDateTime())),
            changes,
        )
    return len(changes)


# Close -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CloseOutcome:
    exam_id: int
    status: str
    closed_at: datetime | None
    attempts_submitted: int


async def close_exam(session: AsyncSession, *, exam_id: int, principal: Principal, now: datetime) -> CloseOutcome:
    """End the exam: no more starts, and every open attempt is submitted (reason "closed") and graded."""
    exam = await load_exam(session, exam_id, lock="update")
    ensure_can_manage_exam(principal, exam, Role.organiser)
    if exam.status in (ExamStatus.closed, ExamStatus.published):
        closed_at = await session.scalar(select(EXAMS.c.closed_at).where(EXAMS.c.id == exam_id))
        return CloseOutcome(exam_id=exam_id, status=exam.status, closed_at=closed_at, attempts_submitted=0)
    await session.execute(
        update(EXAMS).where(EXAMS.c.id == exam_id).values(status=str(ExamStatus.closed), closed_at=now)
    )
    submitted = await claim_and_grade(session, ATTEMPTS.c.exam_id == exam_id, reason=SubmitReason.closed, now=now)
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.close",
        entity="exam",
        entity_id=exam_id,
        detail={"attempts_submitted": len(submitted)},
        at=now,
    )
    return CloseOutcome(
        exam_id=exam_id, status=str(ExamStatus.closed), closed_at=now, attempts_submitted=len(submitted)
    )


# Result ----------------------------------------------------------------------------------------------


async def attempt_result(
    session: AsyncSession, *, attempt_id: int, principal: Principal, now: datetime, grace_seconds: float
) -> AttemptResult:
    """The score (and for practice exams the review); a formal exam's examinee waits for publication."""
    attempt, as_examinee = await readable_attempt(session, attempt_id, principal)
    if await _lazy_submit(session, attempt, now=now, grace_seconds=grace_seconds):
        attempt, as_examinee = await readable_attempt(session, attempt_id, principal)
    if attempt.status == IN_PROGRESS:
        raise ConflictError("尚未交卷 (the attempt is not submitted yet)")
    exam = await load_exam(session, attempt.exam_id)
    # Organisers see every result at once; the examinee and his unit's admin see a formal exam's score
    # once the organiser publishes the results.
    organiser = not as_examinee and principal.has_any(Role.organiser)
    if not organiser and not is_practice(exam) and not results_published(exam):
        raise ConflictError("成绩尚未公布 (results are not published yet)")
    with_review = is_practice(exam) or organiser
    return await _result_view(session, attempt, exam, with_review=with_review)


async def _result_view(
    session: AsyncSession, attempt: AttemptRow, exam: ExamRow, *, with_review: bool
) -> AttemptResult:
    paper = await served_paper(session, attempt.paper_id)
    total = paper.total_points
    score = attempt.score
    return AttemptResult(
        attempt_id=attempt.id,
        exam_id=attempt.exam_id,
        attempt_no=attempt.attempt_no,
        mode=exam.mode,
        status=attempt.status,
        submitted_at=attempt.submitted_at,
        submit_reason=attempt.submit_reason,
        score=score,
        total_points=total,
        passed=None if score is None or not total else score >= PASS_SHARE * total,
        excellent=None if score is None or not total else score >= EXCELLENT_SHARE * total,
        max_attempts=exam.max_attempts,
        required_attempts=exam.required_attempts,
        required_score=exam.required_score,
        questions=await _review(session, attempt, paper) if with_review else None,
    )


async def _review(session: AsyncSession, attempt: AttemptRow, paper: ServedPaper) -> list[ReviewQuestion]:
    given_rows = await session.execute(
        select(ANSWERS.c.position, ANSWERS.c["keys"].label("given"), ANSWERS.c.points, ANSWERS.c.is_correct).where(
            ANSWERS.c.attempt_id == attempt.id
        )
    )
    stored = {row.position: row for row in given_rows}
    answer_key = await session.scalar(select(PAPERS.c.answer_key).where(PAPERS.c.id == attempt.paper_id)) or {}
    notes = {
        row.position: row
        for row in await session.execute(
            select(PaperSlot.position, QuestionVersion.explanation, QuestionVersion.legal_basis)
            .join(QuestionVersion, QuestionVersion.id == PaperSlot.question_version_id)
            .where(PaperSlot.paper_id == attempt.paper_id)
        )
    }
    review: list[ReviewQuestion] = []
    for shown in shown_questions(paper, attempt.question_order, attempt.option_orders):
        paper_no = attempt.question_order[shown["no"] - 1]
        question = paper.questions[paper_no]
        order = attempt.option_orders.get(str(paper_no), question.option_keys)
        answer = stored.get(paper_no)
        note = notes.get(paper_no)
        review.append(
            ReviewQuestion(
                **shown,
                your_answer=shuffling.to_displayed_keys(question.type, order, answer.given if answer else ""),
                right_answer=shuffling.to_displayed_keys(
                    question.type, order, encode_keys(answer_key.get(str(paper_no), []))
                ),
                points_earned=(answer.points or 0.0) if answer else 0.0,
                is_correct=bool(answer.is_correct) if answer else False,
                explanation=note.explanation if note else None,
                legal_basis=note.legal_basis if note else None,
            )
        )
    return review
