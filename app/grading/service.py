"""Set-based grading and regrade.

Each answer is scored when it is saved (by the attempts service, with these same pure scorers), so grading
a submitted attempt is set-based SQL over any number of attempts at once: record the questions left
unanswered (a row with keys ``""`` and 0 points, so item analysis counts omissions), score any answer
that has no points yet from the paper's key, and store the raw sum of points as ``attempts.score`` (the
paper's total is 100 with the preset blueprint; another blueprint's total is kept as it is).

Regrade replays the stored answers of one corrected question through the same scorers with the new
version's key, re-pins the paper slots to that version and records every changed score in the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Float,
    Integer,
    and_,
    any_,
    bindparam,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.models import TYPE_LABELS, Question, QuestionType, QuestionVersion
from app.core.audit import AuditEntry, record_audit
from app.core.db import UTCDateTime
from app.core.errors import NotFoundError, UnprocessableError, field_error
from app.grading.scorers import Scored, encode_keys, score_answer
from app.grading.tables import answer_keys_column, attempt_answers, attempts, exams, paper_slots, papers

# Attempts per statement: keeps every IN list far below SQLite's and asyncpg's bind-parameter limits.
CHUNK = 2000
SUBMITTED = "submitted"
IN_PROGRESS = "in_progress"

T = TypeVar("T")


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class SlotKey:
    type: str
    points: float
    key: str


@dataclass(frozen=True, slots=True)
class PaperKey:
    """One paper's answer key by position, with the exam's rule for multiple-choice questions."""

    multiple_scoring: str
    slots: Mapping[int, SlotKey]

    def score(self, position: int, given: str) -> Scored:
        slot = self.slots.get(position)
        if slot is None:
            return Scored(points=0.0, is_correct=False)
        return score_answer(slot.type, given, slot.key, slot.points, self.multiple_scoring)


def paper_key_from(
    answer_key: Mapping[str, Any], slots: Iterable[tuple[int, str, float]], multiple_scoring: str
) -> PaperKey:
    """A ``PaperKey`` from a paper's stored ``answer_key`` and its slots' (position, type, points)."""
    return PaperKey(
        multiple_scoring=multiple_scoring,
        slots={
            position: SlotKey(type=qtype, points=float(points), key=encode_keys(answer_key.get(str(position), [])))
            for position, qtype, points in slots
        },
    )


async def load_paper_keys(session: AsyncSession, paper_ids: Iterable[int]) -> dict[int, PaperKey]:
    """The answer keys of several papers, loaded once per paper."""
    ids = sorted(set(paper_ids))
    if not ids:
        return {}
    heads = (
        await session.execute(
            select(papers.c.id, papers.c.answer_key, exams.c.multiple_scoring)
            .select_from(papers.join(exams, exams.c.id == papers.c.exam_id))
            .where(papers.c.id.in_(ids))
        )
    ).all()
    slot_rows = (
        await session.execute(
            select(paper_slots.c.paper_id, paper_slots.c.position, paper_slots.c.type, paper_slots.c.points).where(
                paper_slots.c.paper_id.in_(ids)
            )
        )
    ).all()
    slots_by_paper: dict[int, list[tuple[int, str, float]]] = {}
    for row in slot_rows:
        slots_by_paper.setdefault(row.paper_id, []).append((row.position, row.type, row.points))
    return {
        row.id: paper_key_from(row.answer_key or {}, slots_by_paper.get(row.id, []), row.multiple_scoring)
        for row in heads
    }


def _rescored_rows(rows: Iterable[Any], keys: Mapping[int, PaperKey]) -> list[dict[str, Any]]:
    """The rows whose points or correctness differ from what the key gives; memoised per distinct answer."""
    memo: dict[tuple[int, int, str], Scored] = {}
    changed: list[dict[str, Any]] = []
    for row in rows:
        memo_key = (row.paper_id, row.position, row.given)
        scored = memo.get(memo_key)
        if scored is None:
            paper_key = keys.get(row.paper_id)
            scored = paper_key.score(row.position, row.given) if paper_key else Scored(0.0, False)
            memo[memo_key] = scored
        if row.points != scored.points or row.is_correct != scored.is_correct:
            changed.append({
                "b_attempt_id": row.attempt_id, "b_position": row.position,
                "b_points": scored.points, "b_is_correct": scored.is_correct,
            })  # fmt: skip
    return changed


_UPDATE_ANSWER_SCORE = (
    update(attempt_answers)
    .where(
        attempt_answers.c.attempt_id == bindparam("b_attempt_id"),
        attempt_answers.c.position == bindparam("b_position"),
    )
    .values(points=bindparam("b_points"), is_correct=bindparam("b_is_correct"))
)


async def _write_answer_scores(session: AsyncSession, changed: list[dict[str, Any]]) -> None:
    if changed:
        await session.execute(_UPDATE_ANSWER_SCORE, changed)


async def _insert_omitted(session: AsyncSession, attempt_ids: Sequence[int], now: datetime) -> None:
    answered = exists().where(
        attempt_answers.c.attempt_id == attempts.c.id, attempt_answers.c.position == paper_slots.c.position
    )
    omitted = (
        select(
            attempts.c.id,
            paper_slots.c.position,
            literal(""),
            literal(0),
            literal(now, UTCDateTime()),
            literal(0.0),
            false(),
        )
        .select_from(attempts.join(paper_slots, paper_slots.c.paper_id == attempts.c.paper_id))
        .where(attempts.c.id.in_(attempt_ids), ~answered)
    )
    columns = ["attempt_id", "position", "keys", "seq", "saved_at", "points", "is_correct"]
    await session.execute(insert(attempt_answers).from_select(columns, omitted))


async def _score_unscored(session: AsyncSession, attempt_ids: Sequence[int]) -> None:
    # Answers are scored when saved; this only catches rows written by another path.
    rows = (
        await session.execute(
            select(
                attempt_answers.c.attempt_id,
                attempt_answers.c.position,
                answer_keys_column.label("given"),
                attempt_answers.c.points,
                attempt_answers.c.is_correct,
                attempts.c.paper_id,
            )
            .select_from(attempt_answers.join(attempts, attempts.c.id == attempt_answers.c.attempt_id))
            .where(attempt_answers.c.attempt_id.in_(attempt_ids), attempt_answers.c.points.is_(None))
        )
    ).all()
    if rows:
        keys = await load_paper_keys(session, {row.paper_id for row in rows})
        await _write_answer_scores(session, _rescored_rows(rows, keys))


def _score_sum() -> Any:
    return (
        select(func.coalesce(func.sum(attempt_answers.c.points), 0.0))
        .where(attempt_answers.c.attempt_id == attempts.c.id)
        .scalar_subquery()
    )


def _ids_parameter(dialect: str, column_: Any) -> Any:
    """``column IN :b_ids`` as a reusable (compiled once) clause: an array on PostgreSQL, expanding on SQLite."""
    if dialect == "postgresql":
        return column_ == any_(bindparam("b_ids", type_=postgresql.ARRAY(Integer)))
    return column_.in_(bindparam("b_ids", expanding=True))


_DIALECTS = ("sqlite", "postgresql")
_ANSWER_TOTALS = {
    dialect: select(
        attempt_answers.c.attempt_id,
        func.count(),
        func.count(attempt_answers.c.points),
        func.coalesce(func.sum(attempt_answers.c.points), 0.0),
    )
    .where(_ids_parameter(dialect, attempt_answers.c.attempt_id))
    .group_by(attempt_answers.c.attempt_id)
    for dialect in _DIALECTS
}
_SLOTS_PER_PAPER = (
    select(paper_slots.c.paper_id, func.count().label("slots")).group_by(paper_slots.c.paper_id).subquery()
)
_SLOT_COUNTS = {
    dialect: select(attempts.c.id, func.coalesce(_SLOTS_PER_PAPER.c.slots, 0))
    .select_from(attempts.outerjoin(_SLOTS_PER_PAPER, _SLOTS_PER_PAPER.c.paper_id == attempts.c.paper_id))
    .where(_ids_parameter(dialect, attempts.c.id))
    for dialect in _DIALECTS
}


async def _answer_totals(session: AsyncSession, attempt_ids: Sequence[int]) -> dict[int, tuple[int, int, float]]:
    """Per attempt: answer rows, rows already scored, and the sum of their points (one index range scan)."""
    statement = _ANSWER_TOTALS[session.get_bind().dialect.name]
    rows = await session.execute(statement, {"b_ids": list(attempt_ids)})
    return {row[0]: (int(row[1]), int(row[2]), float(row[3])) for row in rows}


async def _slot_counts(session: AsyncSession, attempt_ids: Sequence[int]) -> dict[int, int]:
    """Per attempt: how many questions its paper has."""
    statement = _SLOT_COUNTS[session.get_bind().dialect.name]
    rows = await session.execute(statement, {"b_ids": list(attempt_ids)})
    return {row[0]: int(row[1]) for row in rows}


_UPDATE_SCORE = (
    update(attempts)
    .where(attempts.c.id == bindparam("b_id"))
    .values(score=bindparam("b_score"), graded_at=bindparam("b_graded_at"))
)


_UPDATE_SCORES_FROM_ARRAYS = text(
    "UPDATE attempts SET score = graded.total, graded_at = :now"
    " FROM unnest(:ids, :totals) AS graded (attempt_id, total) WHERE attempts.id = graded.attempt_id"
).bindparams(
    bindparam("ids", type_=postgresql.ARRAY(Integer)),
    bindparam("totals", type_=postgresql.ARRAY(Float)),
    bindparam("now", type_=UTCDateTime()),
)


async def _write_scores(session: AsyncSession, scores: list[tuple[int, float]], now: datetime) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # One statement joined to two arrays: far cheaper than a round trip per row on PostgreSQL.
        await session.execute(
            _UPDATE_SCORES_FROM_ARRAYS,
            {"ids": [a for a, _ in scores], "totals": [total for _, total in scores], "now": now},
        )
    else:
        # SQLite cannot name a VALUES list's columns; its executemany runs in C and costs about as much.
        await session.execute(_UPDATE_SCORE, [{"b_id": a, "b_score": total, "b_graded_at": now} for a, total in scores])


async def grade_attempts(session: AsyncSession, attempt_ids: Sequence[int], *, now: datetime) -> None:
    """Grade submitted attempts set-based: omissions recorded, every answer scored, scores summed.

    An attempt holds a row for each answer saved (scored as it was saved); the questions left
    unanswered get theirs here, so that reports count them as answered wrong, and rows unscored (written
    by other means) are scored. An attempt answered in full needs one aggregate read and one write per
    chunk.
    """
    for chunk in chunked(sorted(set(attempt_ids))):
        totals = await _answer_totals(session, chunk)
        slots = await _slot_counts(session, chunk)
        incomplete = [a for a in chunk if totals.get(a, (0, 0, 0.0))[0] < slots.get(a, 0)]
        if incomplete:
            await _insert_omitted(session, incomplete, now)
        unscored = [a for a in chunk if a in totals and totals[a][1] < totals[a][0]]
        if unscored:
            await _score_unscored(session, unscored)
        if incomplete or unscored:
            totals |= await _answer_totals(session, sorted({*incomplete, *unscored}))
        await _write_scores(session, [(a, totals.get(a, (0, 0, 0.0))[2]) for a in chunk], now)


async def rescore_attempts(session: AsyncSession, attempt_ids: Sequence[int]) -> int:
    """Re-score every stored answer of these attempts from the current keys; returns the answers changed.

    Scores of graded attempts are summed again; use it after a key changed or to verify stored points.
    """
    changed_count = 0
    for chunk in chunked(sorted(set(attempt_ids))):
        rows = (
            await session.execute(
                select(
                    attempt_answers.c.attempt_id,
                    attempt_answers.c.position,
                    answer_keys_column.label("given"),
                    attempt_answers.c.points,
                    attempt_answers.c.is_correct,
                    attempts.c.paper_id,
                )
                .select_from(attempt_answers.join(attempts, attempts.c.id == attempt_answers.c.attempt_id))
                .where(attempt_answers.c.attempt_id.in_(chunk))
            )
        ).all()
        keys = await load_paper_keys(session, {row.paper_id for row in rows})
        changed = _rescored_rows(rows, keys)
        changed_count += len(changed)
        await _write_answer_scores(session, changed)
        await session.execute(
            update(attempts)
            .where(attempts.c.id.in_(chunk), attempts.c.graded_at.is_not(None))
            .values(score=_score_sum())
        )
    return changed_count


# Regrade ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegradeOutcome:
    exam_id: int
    question_id: int
    version: int
    papers: int
    slots_repinned: int
    answers_rescored: int
    attempts_rescored: int
    attempts_changed: int


async def _current_version(session: AsyncSession, question_id: int) -> QuestionVersion:
    version_id = await session.scalar(select(Question.current_version_id).where(Question.id == question_id))
    version = await session.get(QuestionVersion, version_id) if version_id is not None else None
    if version is None:
        raise NotFoundError(f"题目 {question_id} 不存在")
    return version


async def regrade_question(
    session: AsyncSession, *, exam_id: int, question_id: int, actor_id: int | None, now: datetime
) -> RegradeOutcome:
    """Re-score every attempt of the exam whose paper holds ``question_id`` with its current version's key.

    The paper slots are re-pinned to that version and the papers' keys updated, so later grading and
    reports agree; every attempt whose score changes gets an audit row with the old and the new score.
    """
    version = await _current_version(session, question_id)
    slot_rows = (
        await session.execute(
            select(
                paper_slots.c.paper_id,
                paper_slots.c.position,
                paper_slots.c.type,
                paper_slots.c.question_version_id,
                papers.c.content,
            )
            .select_from(paper_slots.join(papers, papers.c.id == paper_slots.c.paper_id))
            .where(papers.c.exam_id == exam_id, paper_slots.c.question_id == question_id)
        )
    ).all()
    if not slot_rows:
        raise UnprocessableError(field_error("question_id", f"题目 {question_id} 不在考试 {exam_id} 的任何试卷中"))
    new_key = [str(k) for k in version.answer]
    for row in slot_rows:
        _check_regradable(row, version, new_key)
    paper_ids = sorted({row.paper_id for row in slot_rows})

    # Saves lock their attempt row before reading the key: holding these locks means no save can score
    # with the old key after the rescoring below (PostgreSQL; SQLite serialises all writers anyway).
    await session.execute(
        select(attempts.c.id)
        .where(attempts.c.paper_id.in_(paper_ids), attempts.c.status == IN_PROGRESS)
        .with_for_update()
    )
    keys_now = dict(
        (
            await session.execute(
                select(papers.c.id, papers.c.answer_key).where(papers.c.id.in_(paper_ids)).with_for_update()
            )
        ).all()
    )
    repinned = sum(1 for row in slot_rows if row.question_version_id != version.id)
    for paper_id in paper_ids:
        answer_key = dict(keys_now.get(paper_id) or {})
        for row in slot_rows:
            if row.paper_id == paper_id:
                answer_key[str(row.position)] = new_key
        await session.execute(update(papers).where(papers.c.id == paper_id).values(answer_key=answer_key))
    await session.execute(
        update(paper_slots)
        .where(paper_slots.c.paper_id.in_(paper_ids), paper_slots.c.question_id == question_id)
        .values(question_version_id=version.id)
    )

    slot_filter = or_(
        *(and_(attempts.c.paper_id == row.paper_id, attempt_answers.c.position == row.position) for row in slot_rows)
    )
    answer_rows = (
        await session.execute(
            select(
                attempt_answers.c.attempt_id,
                attempt_answers.c.position,
                answer_keys_column.label("given"),
                attempt_answers.c.points,
                attempt_answers.c.is_correct,
                attempts.c.paper_id,
            )
            .select_from(attempt_answers.join(attempts, attempts.c.id == attempt_answers.c.attempt_id))
            .where(attempts.c.exam_id == exam_id, slot_filter)
        )
    ).all()
    changed = _rescored_rows(answer_rows, await load_paper_keys(session, paper_ids))
    await _write_answer_scores(session, changed)

    graded = (
        await session.execute(
            select(attempts.c.id, attempts.c.score, _score_sum().label("new_score")).where(
                attempts.c.paper_id.in_(paper_ids), attempts.c.graded_at.is_not(None)
            )
        )
    ).all()
    score_changes = [row for row in graded if row.score is None or abs(row.new_score - row.score) > 1e-9]
    if score_changes:
        await session.execute(
            update(attempts).where(attempts.c.id == bindparam("b_id")).values(score=bindparam("b_score")),
            [{"b_id": row.id, "b_score": row.new_score} for row in score_changes],
        )
        await session.execute(
            insert(AuditEntry),
            [
                {
                    "actor_id": actor_id, "action": "attempt.regrade", "entity": "attempt",
                    "entity_id": str(row.id), "created_at": now,
                    "detail": {
                        "exam_id": exam_id, "question_id": question_id, "version": version.version,
                        "old_score": row.score, "new_score": row.new_score,
                    },
                }
                for row in score_changes
            ],
        )  # fmt: skip
    outcome = RegradeOutcome(
        exam_id=exam_id,
        question_id=question_id,
        version=version.version,
        papers=len(paper_ids),
        slots_repinned=repinned,
        answers_rescored=len(changed),
        attempts_rescored=len(graded),
        attempts_changed=len(score_changes),
    )
    await record_audit(
        session,
        actor_id=actor_id,
        action="exam.regrade",
        entity="exam",
        entity_id=exam_id,
        detail={
            "question_id": question_id,
            "version": version.version,
            "papers": outcome.papers,
            "slots_repinned": repinned,
            "answers_rescored": outcome.answers_rescored,
            "attempts_changed": outcome.attempts_changed,
        },
        at=now,
    )
    return outcome


def _check_regradable(row: Any, version: QuestionVersion, new_key: list[str]) -> None:
    # Answers are stored in the paper's option keys as served: only the key may change, not the options.
    if version.type != row.type:
        raise UnprocessableError(
            field_error(
                "question_id",
                f"题目当前版本把题型改为{TYPE_LABELS[QuestionType(version.type)]}；重新评分只能更正答案",
            )
        )
    served = next((item for item in row.content if int(item["no"]) == row.position), None)
    served_keys = {str(o["key"]) for o in (served or {}).get("options", [])} or {"T", "F"}
    if not new_key or not set(new_key) <= served_keys:
        raise UnprocessableError(
            field_error(
                "question_id", f"新答案 {new_key} 含有试卷未展示的选项（试卷选项：{'、'.join(sorted(served_keys))}）"
            )
        )
