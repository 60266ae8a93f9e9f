"""Taking an exam, as the routes serve it: start or resume, autosave, submit (by the examinee, at the
deadline, on close, after too many focus losses) and the examinee's result.

The hot-path rules themselves — the save's claim and answer rows, the submit's claim and grading, the
first start's insert — are the exam room's (``app.exams.room.room`` on ``app.exams.room.rules``), which
the lane calls too; what is here is what the lane leaves to the routes:

* explaining a refused save (submitted, time up — the attempt is then submitted on the way —, another
  device, a stale ``seq``) or submit, resuming an attempt (the session that resumes it takes it over:
  saves and submits from the older one get 409 “opened on another device”), later attempts of a
  practice exam, a submit the grading service settles (time up, questions left unanswered, practice);
* the lazy check on reads: an attempt found past its deadline and grace is submitted;
* the result and the practice review.

Every acknowledged save is committed before the reply (``attempts_router``); whoever flips an attempt's
status from ``in_progress`` (the examinee, the sweeper of any process, close, the lazy check) grades it,
exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.bank.models import QuestionVersion
from app.core.errors import ConflictError, ForbiddenError, NotFoundError
from app.exams.exam_rules import (
    ExamRow,
    ensure_exam_open,
    is_practice,
    load_exam,
    results_published,
)
from app.exams.models import (
    Absence,
    Attempt,
    AttemptAnswer,
    Exam,
    ExamStatus,
    Participant,
)
from app.exams.room import room, shuffling
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
from app.exams.room.room import cutoff_of, is_overdue, remaining_seconds
from app.exams.room.rules import IN_PROGRESS, SUBMITTED
from app.exams.room.served_paper import ServedPaper, served_paper
from app.grading import service as grading
from app.grading.scorers import encode_keys
from app.papers.models import Paper, PaperSlot

ATTEMPTS = cast(Table, Attempt.__table__)
ANSWERS = cast(Table, AttemptAnswer.__table__)
PARTICIPANTS = cast(Table, Participant.__table__)
PAPERS = cast(Table, Paper.__table__)
PAPER_SLOTS = cast(Table, PaperSlot.__table__)
ABSENCES = cast(Table, Absence.__table__)
EXAMS = cast(Table, Exam.__table__)

PASS_SHARE = 0.6
EXCELLENT_SHARE = 0.9
AttemptRow = Row[*tuple[Any, ...]]
OTHER_DEVICE = "本场考试已在其他设备上打开 (this exam was opened on another device)"


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
    cutoff = cutoff_of(now, grace_seconds)
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
    io = room.SessionRoom(session)
    planned = room.plan_attempt(
        room.SQLITE_VALUES if io.is_sqlite else room.POSTGRESQL_VALUES, exam, paper, exam_id=exam.id,
        participant_id=examinee.participant_id, unit_id=examinee.unit_id, attempt_no=attempt_no,
        extra_time_seconds=examinee.extra_time_seconds, digest=principal.session_digest, now=now,
    )  # fmt: skip
    # Two starts at once (a double click, two devices): one inserts, the other resumes that attempt.
    inserted = await room.insert_attempt(io, planned)
    if inserted is None:
        attempt = await _latest_attempt(session, examinee.participant_id)
        if attempt is None or attempt.attempt_no != attempt_no:  # the exam closed, or the paper went away
            raise ConflictError("考试已结束 (the exam is closed)")
        return await _resume(session, attempt, exam, principal, now)
    values = {
        "id": inserted, "exam_id": exam.id, "attempt_no": attempt_no, "status": IN_PROGRESS, "started_at": now,
        "deadline_at": planned.deadline_at, "last_seq": 0, "paper_id": paper.id,
        "question_order": planned.presentation.question_order, "option_orders": planned.presentation.option_orders,
    }  # fmt: skip
    return await _start_view(session, SimpleNamespace(**values), exam, now=now, answers={}, paper=paper)


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
    """Merge answers into the attempt when the exam room's claim holds (``room.claim_save``); else say why."""
    await owned_attempt(session, attempt_id, principal)  # 404 for another's attempt, before its answers are read
    save = room.SaveClaim(
        attempt_id=attempt_id, digest=principal.session_digest, seq=seq, answers=answers, now=now,
        grace_seconds=grace_seconds,
    )  # fmt: skip
    io = room.SessionRoom(session)
    for _ in range(3):  # a claim refused only because the key changed since it was scored: score again
        deadline_at = await room.claim_save(io, room.Scorings(), save)
        if deadline_at is not None:
            return SaveResult(
                saved=True,
                last_seq=seq,
                saved_at=now,
                remaining_seconds=remaining_seconds(deadline_at, now),
                deadline_at=deadline_at,
            )
        refused = await _explain_unsaved(session, attempt_id, principal, seq=seq, now=now, grace_seconds=grace_seconds)
        if refused is not None:
            return refused
    raise ConflictError("答案未保存，请重试 (the save could not be stored; please try again)")


async def _explain_unsaved(
    session: AsyncSession, attempt_id: int, principal: Principal, *, seq: int, now: datetime, grace_seconds: float
) -> SaveResult | None:
    """Why the claim refused the save (raised as 409, or the reply to a stale ``seq``); None when nothing
    explains it (the scoring changed under it)."""
    attempt = await owned_attempt(session, attempt_id, principal)
    if attempt.status != IN_PROGRESS:
        raise ConflictError("已交卷，不能再保存 (the attempt is submitted; nothing was saved)")
    if is_overdue(attempt.deadline_at, now, grace_seconds):
        # Raised after a write on purpose: the router keeps submissions made on the way (see its docstring).
        await submit_if_overdue(session, attempt_id, now=now, grace_seconds=grace_seconds)
        raise ConflictError("考试时间已到 (time is up; the attempt was submitted with what was saved)")
    if attempt.session_digest != principal.session_digest:
        raise ConflictError(OTHER_DEVICE)
    if attempt.last_seq >= seq:
        return SaveResult(saved=False, ignored="stale seq", last_seq=attempt.last_seq)
    return None


# Submit ----------------------------------------------------------------------------------------------


async def submit_attempt(
    session: AsyncSession, *, attempt_id: int, principal: Principal, now: datetime, grace_seconds: float
) -> SubmitResult:
    """Submit the caller's attempt and grade it; submitting again answers the same."""
    attempt = await owned_attempt(session, attempt_id, principal)
    if attempt.status == IN_PROGRESS:
        if attempt.session_digest != principal.session_digest:
            raise ConflictError(OTHER_DEVICE)
        claimed = await room.claim_submit(
            room.SessionRoom(session), attempt_id=attempt_id, digest=principal.session_digest, now=now,
            grace_seconds=grace_seconds,
        )  # fmt: skip
        if not claimed:  # the rest the grading service settles: time up, questions unanswered, practice
            overdue = is_overdue(attempt.deadline_at, now, grace_seconds)
            reason = SubmitReason.deadline if overdue else SubmitReason.examinee
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
