"""Who sees what of an exam, and from when: the one rule table that every route, export and page asks.

A formal exam's paper (its questions and keys) stays sealed for a unit admin until the exam is closed;
its results reach him once they are published, and individuals and absences only of his own unit.
Staff who run the exams (admin, organiser, supervisor) see everything at once; a unit admin manages his
own unit's practice exams and so sees them as staff do; everyone else sees no report. The table is
written out in the README (“Who sees what”) and tested cell by cell (``tests/accounts/test_visibility.py``).

Accounts sit below the exams domain, so the few exam columns the rules read are named here as a table
(``tests/accounts/test_visibility.py`` checks the status names against ``ExamStatus``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import column, exists, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.core.errors import ForbiddenError, NotFoundError


class Subject(enum.StrEnum):
    """What of an exam is read."""

    paper = "paper"  # its papers' questions and keys: bank reads, 试题分析, paper detail and export
    results = "results"  # the report's figures: ranking, rates, notice, fairness
    individuals = "individuals"  # each examinee's score
    absences = "absences"  # who did not sit, and why


class When(enum.StrEnum):
    """From which moment of a formal exam a subject is visible (practice exams: always)."""

    always = "always"
    closed = "closed"
    published = "published"
    never = "never"


class Reach(enum.StrEnum):
    all_units = "all_units"
    own_unit = "own_unit"


class Reader(enum.StrEnum):
    """The kinds of caller the table distinguishes."""

    staff = "staff"  # admin, organiser, supervisor; a unit admin for his own unit's practice exams
    unit_admin = "unit_admin"  # of a unit taking part
    nobody = "nobody"  # proctors, bank editors, examinees, unit admins of other units


@dataclass(frozen=True, slots=True)
class Rule:
    when: When
    reach: Reach


STAFF_ROLES = (Role.organiser, Role.supervisor)
_NEVER = Rule(When.never, Reach.own_unit)

RULES: dict[Reader, dict[Subject, Rule]] = {
    Reader.staff: {subject: Rule(When.always, Reach.all_units) for subject in Subject},
    Reader.unit_admin: {
        Subject.paper: Rule(When.closed, Reach.own_unit),
        Subject.results: Rule(When.published, Reach.all_units),
        Subject.individuals: Rule(When.published, Reach.own_unit),
        Subject.absences: Rule(When.always, Reach.own_unit),
    },
    Reader.nobody: dict.fromkeys(Subject, _NEVER),
}

# ExamStatus and ExamMode values (app.exams.models), which this layer cannot import.
FORMAL = "formal"
SEALED_STATUS = "drawn"  # papers drawn, not yet closed
CLOSED_STATUSES = frozenset({"closed", "published"})
PUBLISHED_STATUS = "published"

_exams = table("exams", column("id"), column("mode"), column("status"), column("owner_unit_id"), column("published_at"))
_exam_units = table("exam_units", column("exam_id"), column("unit_id"))

REFUSALS = {
    When.closed: "考试结束前不能查看试题和答案 (the paper is sealed until the exam is closed)",
    When.published: "成绩尚未公布 (results are not published yet)",
    When.never: "无权查看该考试的这项内容 (not visible to your role)",
}


def is_published(status: str, published_at: object) -> bool:
    """Whether an exam's results are published: the one publication rule (the reports here, and the
    examinee's own result through ``app.exams.exam_rules.results_published``)."""
    return status == PUBLISHED_STATUS or published_at is not None


@dataclass(frozen=True, slots=True)
class ExamFacts:
    """What the rules need to know about one exam."""

    exam_id: int
    mode: str
    status: str
    owner_unit_id: int | None
    published: bool
    unit_ids: frozenset[int]

    def reached(self, when: When) -> bool:
        if when is When.never:
            return False
        if self.mode != FORMAL or when is When.always:
            return True
        if when is When.closed:
            return self.status in CLOSED_STATUSES
        return self.published


async def exam_facts(session: AsyncSession, exam_id: int) -> ExamFacts:
    """The exam's mode, status and units; 404 when there is no such exam."""
    row = (
        await session.execute(
            select(_exams.c.mode, _exams.c.status, _exams.c.owner_unit_id, _exams.c.published_at).where(
                _exams.c.id == exam_id
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"考试 {exam_id} 不存在")
    units = await session.scalars(select(_exam_units.c.unit_id).where(_exam_units.c.exam_id == exam_id))
    return ExamFacts(
        exam_id=exam_id,
        mode=str(row.mode),
        status=str(row.status),
        owner_unit_id=row.owner_unit_id,
        published=is_published(str(row.status), row.published_at),
        unit_ids=frozenset(units),
    )


def reader_of(principal: Principal, facts: ExamFacts) -> Reader:
    if principal.has_any(*STAFF_ROLES):
        return Reader.staff
    if Role.unit_admin not in principal.roles or principal.unit_id is None:
        return Reader.nobody
    if facts.mode != FORMAL and facts.owner_unit_id == principal.unit_id:
        return Reader.staff
    return Reader.unit_admin if principal.unit_id in facts.unit_ids else Reader.nobody


@dataclass(frozen=True, slots=True)
class Sight:
    """The answer for one caller, subject and exam: visible or not, and of which unit (None: all)."""

    visible: bool
    unit_id: int | None
    refusal: str


def sight(principal: Principal, subject: Subject, facts: ExamFacts) -> Sight:
    """What ``principal`` may read of ``subject`` of this exam now."""
    rule = RULES[reader_of(principal, facts)][subject]
    unit_id = principal.unit_id if rule.reach is Reach.own_unit else None
    return Sight(visible=facts.reached(rule.when), unit_id=unit_id, refusal=REFUSALS.get(rule.when, ""))


def require(principal: Principal, subject: Subject, facts: ExamFacts, *, unit_id: int | None = None) -> int | None:
    """The unit filter (None: every unit) under which ``principal`` reads ``subject``; 403 when he may not,
    or when he asks for another unit than his own."""
    seen = sight(principal, subject, facts)
    if not seen.visible:
        raise ForbiddenError(seen.refusal)
    if seen.unit_id is None:
        return unit_id
    if unit_id is not None and unit_id != seen.unit_id:
        raise ForbiddenError("只能查看本单位的数据 (individual rows go back to the examinee's own unit only)")
    return seen.unit_id


BANK_READERS = (Role.bank_editor, Role.organiser, Role.supervisor)


async def bank_sealed(session: AsyncSession, principal: Principal) -> bool:
    """Whether the caller's bank reads are sealed now: he is a unit admin (and no bank reader) and a
    formal exam of his unit has its papers drawn and is not closed yet (``Subject.paper``)."""
    if principal.has_any(*BANK_READERS):
        return False
    if Role.unit_admin not in principal.roles or principal.unit_id is None:
        return False
    rule = RULES[Reader.unit_admin][Subject.paper]
    if rule.when is When.always:
        return False
    sealed = exists().where(
        _exams.c.id == _exam_units.c.exam_id,
        _exam_units.c.unit_id == principal.unit_id,
        _exams.c.mode == FORMAL,
        _exams.c.status == SEALED_STATUS,
    )
    return bool(await session.scalar(select(sealed)))


async def ensure_bank_readable(session: AsyncSession, principal: Principal) -> None:
    """403 while the caller's bank is sealed: the questions of a running formal paper are among it."""
    if await bank_sealed(session, principal):
        raise ForbiddenError(
            "本单位正式考试进行中，考试结束前不能查看题库 (the bank is sealed while a formal exam of your unit runs)"
        )
