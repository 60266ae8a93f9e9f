"""Who sees what of a formal exam, and from when (``app.accounts.visibility``), route by route and
inside the exports: every cell of the README's table."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import visibility
from app.accounts.models import Role
from app.accounts.visibility import RULES, Reach, Reader, Subject, When
from app.exams.models import Absence, Exam, ExamMode, ExamStatus
from tests.factories import headers_for
from tests.reports.factories_reports import Seat, SlotSpec, make_exam, make_paper, make_units, seat_examinees

README = Path(__file__).resolve().parents[2] / "README.md"
PHASES = ("sealed", "closed", "published")


async def formal_round(session: AsyncSession, phase: str, *, mode: str = "formal") -> dict[str, Any]:
    """Two units, each with its paper of two questions, three examinees and one absence."""
    own, other = await make_units(session, ["本单位", "外单位"], [40, 40])
    exam = await make_exam(session, [own, other], mode=mode)
    built: dict[str, Any] = {"exam": exam, "own": own, "other": other}
    for key, unit, scores in (("own", own, [91, 72]), ("other", other, [88, 55])):
        paper = await make_paper(session, exam, unit, [SlotSpec(), SlotSpec(category="law", type="judge", answer="T")])
        seated = await seat_examinees(session, exam, paper, [Seat("chu", s) for s in scores])
        absent = await seat_examinees(session, exam, paper, [Seat("ke", None)])
        session.add(Absence(exam_id=exam.id, cadre_id=absent[0].cadre_id, unit_id=unit.id, reason=f"{key}因病"))
        built[f"{key}_paper"] = paper
        built[f"{key}_questions"] = [s.question_id for s in await _slots(session, paper.id)]
        built[f"{key}_cadres"] = {s.cadre_id for s in seated}
    exam.status = {"sealed": ExamStatus.drawn, "closed": ExamStatus.closed, "published": ExamStatus.published}[phase]
    exam.published_at = datetime(2018, 9, 6, tzinfo=UTC) if phase == "published" else None
    await session.commit()
    return built


async def _slots(session: AsyncSession, paper_id: int) -> list[Any]:
    from sqlalchemy import select

    from app.papers.models import PaperSlot

    return list(await session.scalars(select(PaperSlot).where(PaperSlot.paper_id == paper_id)))


CALLERS = ("admin", "organiser", "supervisor", "unit_admin", "other_unit_admin", "proctor", "bank_editor", "examinee")


async def caller_headers(session: AsyncSession, caller: str, built: dict[str, Any]) -> dict[str, str]:
    if caller == "unit_admin":
        return await headers_for(session, Role.unit_admin, unit_id=built["own"].id)
    if caller == "other_unit_admin":
        stranger = (await make_units(session, ["第三单位"], [40]))[0]
        return await headers_for(session, Role.unit_admin, unit_id=stranger.id)
    return await headers_for(session, Role(caller), unit_id=built["own"].id if caller == "examinee" else None)


def expected(caller: str, subject: Subject, phase: str) -> bool:
    """The table's answer, read independently of ``visibility.sight``."""
    if caller in ("admin", "organiser", "supervisor"):
        return True
    if caller != "unit_admin":
        return False
    return {
        Subject.paper: phase in ("closed", "published"),
        Subject.results: phase == "published",
        Subject.individuals: phase == "published",
        Subject.absences: True,
    }[subject]


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("caller", CALLERS)
async def test_report_routes_follow_the_table(
    client: httpx2.AsyncClient, session: AsyncSession, caller: str, phase: str
) -> None:
    built = await formal_round(session, phase)
    exam_id = built["exam"].id
    headers = await caller_headers(session, caller, built)
    results = expected(caller, Subject.results, phase)
    for path in ("report", "report/notice", "fairness"):
        response = await client.get(f"/api/exams/{exam_id}/{path}", headers=headers)
        assert response.status_code == (200 if results else 403), (caller, phase, path, response.text)
    individuals = await client.get(f"/api/exams/{exam_id}/report/individuals", headers=headers)
    assert individuals.status_code == (200 if expected(caller, Subject.individuals, phase) else 403)
    export = await client.get(f"/api/exams/{exam_id}/report/export", params={"format": "csv", "table": "individuals"},
                              headers=headers)  # fmt: skip
    assert export.status_code == (200 if results else 403)
    if caller == "unit_admin" and phase != "published":
        assert "成绩尚未公布" in individuals.json()["detail"]


async def test_a_unit_admin_reads_his_own_unit_only_once_published(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    built = await formal_round(session, "published")
    exam_id, own, other = built["exam"].id, built["own"], built["other"]
    headers = await caller_headers(session, "unit_admin", built)
    report = (await client.get(f"/api/exams/{exam_id}/report", headers=headers)).json()
    assert {u["unit_id"] for u in report["units"]} == {own.id, other.id}  # the ranking is published to all
    assert [a["unit_id"] for a in report["absences"]] == [own.id]
    assert [a["reason"] for a in report["absences"]] == ["own因病"]
    notice = (await client.get(f"/api/exams/{exam_id}/report/notice", headers=headers)).text
    assert "other因病" not in notice
    mine = (await client.get(f"/api/exams/{exam_id}/report/individuals", headers=headers)).json()
    assert {row["cadre_id"] for row in mine["items"]} == built["own_cadres"]
    theirs = await client.get(f"/api/exams/{exam_id}/report/individuals", params={"unit_id": other.id},
                              headers=headers)  # fmt: skip
    assert theirs.status_code == 403

    workbook = await _workbook(client, exam_id, headers)
    assert len(workbook["个人成绩"]) == 2
    assert {row[0] for row in workbook["个人成绩"]} == {"本单位"}
    analysed = {int(row[3]) for row in workbook["试题分析"]}
    assert analysed == set(built["own_questions"])  # his own paper only, never the other unit's

    supervisor = await headers_for(session, Role.supervisor)
    everything = (await client.get(f"/api/exams/{exam_id}/report", headers=supervisor)).json()
    assert sorted(a["reason"] for a in everything["absences"]) == ["other因病", "own因病"]
    full = await _workbook(client, exam_id, supervisor)
    assert {int(row[3]) for row in full["试题分析"]} == {*built["own_questions"], *built["other_questions"]}
    rows = list(csv.reader(io.StringIO((await client.get(
        f"/api/exams/{exam_id}/report/export", params={"format": "csv", "table": "individuals"}, headers=headers,
    )).content.decode("utf-8-sig"))))  # fmt: skip
    assert len(rows) == 1 + 2


async def _workbook(client: httpx2.AsyncClient, exam_id: int, headers: dict[str, str]) -> Any:
    response = await client.get(f"/api/exams/{exam_id}/report/export", headers=headers)
    assert response.status_code == 200, response.text
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    return {name: workbook.get_sheet_by_name(name).to_python()[1:] for name in workbook.sheet_names}


@pytest.mark.parametrize("phase", PHASES)
async def test_the_bank_is_sealed_for_the_units_admin_while_its_formal_paper_runs(
    client: httpx2.AsyncClient, session: AsyncSession, phase: str
) -> None:
    built = await formal_round(session, phase)
    question_id = built["own_questions"][0]
    sealed = not expected("unit_admin", Subject.paper, phase)
    own_admin = await caller_headers(session, "unit_admin", built)
    stranger = await caller_headers(session, "other_unit_admin", built)
    editor = await headers_for(session, Role.bank_editor)
    reads = [
        ("GET", f"/api/questions/{question_id}", None),
        ("GET", f"/api/questions/{question_id}/versions", None),
        ("GET", "/api/questions", None),
        ("GET", "/api/questions/export?format=json", None),
        ("PATCH", f"/api/questions/{question_id}", {}),
    ]
    for method, path, body in reads:
        for headers, refused in ((own_admin, sealed), (stranger, False), (editor, False)):
            response = await client.request(method, path, json=body, headers=headers)
            if refused:
                assert response.status_code == 403, (phase, path, response.text)
                assert "考试结束前不能查看题库" in response.json()["detail"]
            else:
                assert response.status_code in (200, 403), (phase, path, response.text)
                assert "考试结束前" not in response.text
    # Outside the seal the shared question and its key are his to read.
    if not sealed:
        answer = (await client.get(f"/api/questions/{question_id}", headers=own_admin)).json()["answer"]
        assert answer == ["B"]


async def test_a_practice_exam_never_seals_the_bank(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    built = await formal_round(session, "sealed", mode=ExamMode.practice)
    own_admin = await caller_headers(session, "unit_admin", built)
    response = await client.get(f"/api/questions/{built['own_questions'][0]}", headers=own_admin)
    assert response.status_code == 200
    report = await client.get(f"/api/exams/{built['exam'].id}/report", headers=own_admin)
    assert report.status_code == 200  # his own unit's practice: he runs it


def test_the_status_names_the_rules_read_are_the_exam_statuses() -> None:
    assert ExamStatus.drawn == visibility.SEALED_STATUS
    assert {ExamStatus.closed, ExamStatus.published} == visibility.CLOSED_STATUSES
    assert ExamStatus.published == visibility.PUBLISHED_STATUS
    assert ExamMode.formal == visibility.FORMAL
    assert {c.name for c in Exam.__table__.columns} >= {"mode", "status", "owner_unit_id", "published_at"}


def test_the_readme_table_is_the_rule_table() -> None:
    """The README's “Who sees what” table lists exactly the rules the code applies."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Who sees what", 1)[1].split("\n## ", 1)[0]
    cells = {}
    for line in section.splitlines():
        match = re.match(r"^\| `(\w+)` \| `(\w+)` \| `(\w+)` \| `(\w+)` \|", line)
        if match:
            reader, subject, when, reach = match.groups()
            cells[(Reader(reader), Subject(subject))] = (When(when), Reach(reach))
    assert cells == {
        (reader, subject): (rule.when, rule.reach) for reader, rules in RULES.items() for subject, rule in rules.items()
    }


@pytest.mark.parametrize("status", list(ExamStatus))
@pytest.mark.parametrize("published_at", [None, datetime(2018, 9, 6, tzinfo=UTC)])
def test_the_examinee_and_the_reports_see_publication_alike(status: ExamStatus, published_at: datetime | None) -> None:
    """An examinee's own result (``exam_rules.results_published``) and a unit admin's report
    (``ExamFacts.reached(When.published)``) open at the same moment of a formal exam."""
    from types import SimpleNamespace

    from app.exams.exam_rules import results_published

    facts = visibility.ExamFacts(
        exam_id=1,
        mode=ExamMode.formal,
        status=status,
        owner_unit_id=None,
        published=visibility.is_published(status, published_at),
        unit_ids=frozenset(),
    )
    exam: Any = SimpleNamespace(status=status, published_at=published_at, mode=ExamMode.formal)
    assert results_published(exam) is facts.reached(When.published)
    assert facts.reached(When.published) is (status == ExamStatus.published or published_at is not None)
