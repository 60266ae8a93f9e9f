"""Every figure of the report on a small hand-computed exam: ties, a unit where nobody sat, absences,
a practice-style retake, an attempt still in progress, and the half-up rounding edges."""

from __future__ import annotations

import statistics
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.exams.models import Attempt
from app.reports.numbers import published, round_half_up, share
from tests.factories import headers_for
from tests.reports.factories_reports import (
    Seat,
    make_exam,
    make_paper,
    make_units,
    record_absence,
    record_incident,
    seat_examinees,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.05", "0.1"), ("87.45", "87.5"), ("2.25", "2.3"), ("0.04999", "0.0"), ("-0.05", "-0.1"), ("99.95", "100.0")],
)
def test_round_half_up(value: str, expected: str) -> None:
    assert round_half_up(Decimal(value)) == Decimal(expected)


def test_rates_round_half_up() -> None:
    assert published(share(1, 2000)) == 0.1  # 0.05 %
    assert published(share(1, 3)) == 33.3
    assert published(share(2, 3)) == 66.7
    assert share(0, 0) is None


async def build_hand_exam(session: AsyncSession) -> dict[str, Any]:
    a, b, c, d, e = await make_units(
        session, ["单位甲", "单位乙", "单位丙", "单位丁", "单位戊"], [100, 200, 200, 50, 30]
    )
    exam = await make_exam(session, [a, b, c, d, e])
    papers = {unit.id: await make_paper(session, exam, unit) for unit in (a, b, c, d, e)}
    seated_a = await seat_examinees(
        session,
        exam,
        papers[a.id],
        [
            Seat("ting", 100),
            Seat("chu", 90),
            Seat("ke", 60),
            Seat("ke", 50),
        ],
    )
    await seat_examinees(
        session,
        exam,
        papers[b.id],
        [
            Seat("chu", 80, earlier_scores=[10]),
            Seat("ke", 70),
            Seat("ke", None, in_progress=True),
        ],
    )
    await seat_examinees(session, exam, papers[c.id], [Seat("chu", 87.4), Seat("ke", 87.5)])
    seated_e = await seat_examinees(session, exam, papers[e.id], [Seat("ke", 40)])
    absence = await record_absence(session, exam, d, "因病")
    await record_incident(session, exam, a, "whispering", seated_a[0].cadre_id)
    await record_incident(session, exam, e, "copying", seated_e[0].cadre_id)
    await record_incident(session, exam, e, "copying", seated_e[0].cadre_id)
    return {"exam": exam, "units": (a, b, c, d, e), "absence": absence}


async def get_report(client: httpx2.AsyncClient, session: AsyncSession, exam_id: int) -> dict[str, Any]:
    headers = await headers_for(session, Role.supervisor)
    response = await client.get(f"/api/exams/{exam_id}/report", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_hand_computed_report(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    built = await build_hand_exam(session)
    a, b, c, d, e = built["units"]
    report = await get_report(client, session, built["exam"].id)

    scores = [100, 90, 60, 50, 80, 70, 87.4, 87.5, 40]
    overall = report["overall"]
    assert overall == {
        "sat": 9,
        "absent": 1,
        "by_rank": {"ting": 1, "chu": 3, "ke": 5},
        "headcount": 580,
        "headcount_share": 1.6,  # 9 / 580 = 1.55 %
        "average": 73.9,  # 664.9 / 9 = 73.877…
        "stdev": float(round_half_up(Decimal(str(statistics.pstdev(scores))))),
        "pass_count": 7,
        "pass_rate": 77.8,
        "excellent_count": 2,
        "excellence_rate": 22.2,
        "full_count": 1,
        "full_rate": 11.1,
        "fail_count": 2,
    }
    assert report["raw"]["overall"]["average"] == pytest.approx(664.9 / 9)

    ranks = {row["rank"]: row for row in report["ranks"]}
    assert [row["rank"] for row in report["ranks"]] == ["ting", "chu", "ke"]
    assert ranks["ting"] | {} == ranks["ting"]
    assert (ranks["ting"]["sat"], ranks["ting"]["average"], ranks["ting"]["full_rate"]) == (1, 100.0, 100.0)
    assert (ranks["chu"]["sat"], ranks["chu"]["average"], ranks["chu"]["excellence_rate"]) == (3, 85.8, 33.3)
    assert (ranks["ke"]["sat"], ranks["ke"]["average"], ranks["ke"]["pass_rate"], ranks["ke"]["excellence_rate"]) == (
        5,
        61.5,
        60.0,
        0.0,
    )

    # C 87.45 (half-up 87.5), then A and B tied on 75.0 (position 2 both, by name), E 40, D nobody.
    units = report["units"]
    assert [(u["unit_id"], u["position"], u["average"]) for u in units] == [
        (c.id, 1, 87.5),
        (b.id, 2, 75.0),
        (a.id, 2, 75.0),
        (e.id, 4, 40.0),
        (d.id, None, None),
    ]
    row_a = units[2]
    assert row_a == {
        "unit_id": a.id,
        "name": "单位甲",
        "sat": 4,
        "absent": 0,
        "average": 75.0,
        "pass_rate": 75.0,
        "excellence_rate": 50.0,
        "full_rate": 25.0,
        "pass_count": 3,
        "excellent_count": 2,
        "full_count": 1,
        "fail_count": 1,
        "headcount": 100,
        "position": 2,
    }
    row_d = units[4]
    assert (row_d["sat"], row_d["absent"], row_d["pass_rate"], row_d["fail_count"]) == (0, 1, None, 0)
    assert units[1]["sat"] == 2  # the retake counts once (its last score, 80); the open attempt not at all

    assert report["spread"] == {"best_unit_id": c.id, "worst_unit_id": e.id, "gap": 47.5}  # 87.45 − 40
    assert report["discipline"] == [
        {"unit_id": a.id, "incidents": {"whispering": 1, "peeking": 0, "copying": 0, "other": 0}},
        {"unit_id": e.id, "incidents": {"whispering": 0, "peeking": 0, "copying": 2, "other": 0}},
    ]
    assert report["absences"] == [{"cadre_id": built["absence"].cadre_id, "unit_id": d.id, "reason": "因病"}]

    cross = {row["unit_id"]: row for row in report["cross"]}
    assert cross[a.id]["ke"] == {"sat": 2, "average": 55.0, "excellence_rate": 0.0}
    assert cross[c.id]["chu"] == {"sat": 1, "average": 87.4, "excellence_rate": 0.0}
    assert cross[d.id]["ting"] == {"sat": 0, "average": None, "excellence_rate": None}

    bands = {band["low"]: band["count"] for band in report["distribution"]}
    assert bands == {0: 0, 10: 0, 20: 0, 30: 0, 40: 1, 50: 1, 60: 1, 70: 1, 80: 3, 90: 2}
    assert sum(bands.values()) == 9


async def test_regrade_changes_the_ranking(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    built = await build_hand_exam(session)
    a, b, c, _d, _e = built["units"]
    # A corrected key lifts every examinee of unit B by ten points (as a regrade rewrites attempt scores).
    await session.execute(
        update(Attempt).where(Attempt.unit_id == b.id, Attempt.status == "submitted").values(score=Attempt.score + 10)
    )
    await session.commit()
    report = await get_report(client, session, built["exam"].id)
    assert [(u["unit_id"], u["position"]) for u in report["units"][:3]] == [(c.id, 1), (b.id, 2), (a.id, 3)]
    assert report["units"][1]["average"] == 85.0


async def test_unknown_exam_is_404(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.supervisor)
    assert (await client.get("/api/exams/999999/report", headers=headers)).status_code == 404


async def test_paper_not_out_of_100_is_judged_on_the_100_scale(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    (unit,) = await make_units(session, ["单位己"], [10])
    exam = await make_exam(session, [unit])
    paper = await make_paper(session, exam, unit, total_points=50)
    await seat_examinees(session, exam, paper, [Seat("ke", 30), Seat("ke", 45), Seat("ke", 50), Seat("ke", 29.5)])
    report = await get_report(client, session, exam.id)
    overall = report["overall"]
    assert (overall["average"], overall["pass_count"], overall["excellent_count"], overall["full_count"]) == (
        77.3,
        3,
        2,
        1,  # 60, 90, 100, 59 on the 100 scale
    )


async def test_regrade_through_the_grading_service_changes_the_ranking(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    """A wrong key corrected after the exam: the grading engineer's regrade rewrites scores, the report follows."""
    from tests.reports.factories_reports import Answer, SlotSpec

    first, second = await make_units(session, ["单位庚", "单位辛"], [60, 60])
    exam = await make_exam(session, [first, second])
    shared = SlotSpec("single", "theory", 50, "B")
    paper_first = await make_paper(session, exam, first, [shared, SlotSpec("judge", "law", 50, "T")])
    paper_second = await make_paper(session, exam, second, [shared, SlotSpec("judge", "law", 50, "T")])
    both_right = {1: Answer("B", 50, True), 2: Answer("T", 50, True)}
    await seat_examinees(session, exam, paper_first, [Seat("ke", 100, answers=both_right)] * 2)
    picked_c = {1: Answer("C", 0, False), 2: Answer("T", 50, True)}
    await seat_examinees(session, exam, paper_second, [Seat("ke", 50, answers=picked_c)] * 2)

    before = await get_report(client, session, exam.id)
    assert [(u["unit_id"], u["average"]) for u in before["units"]] == [(first.id, 100.0), (second.id, 50.0)]

    admin = await headers_for(session, Role.admin)
    assert shared.question is not None
    fixed = await client.patch(f"/api/questions/{shared.question.id}", json={"answer": ["C"]}, headers=admin)
    assert fixed.status_code == 200, fixed.text
    regraded = await client.post(
        f"/api/exams/{exam.id}/regrade", json={"question_id": shared.question.id}, headers=admin
    )
    assert regraded.status_code == 200, regraded.text

    after = await get_report(client, session, exam.id)
    assert [(u["unit_id"], u["position"], u["average"]) for u in after["units"]] == [
        (second.id, 1, 100.0),
        (first.id, 2, 50.0),
    ]
    assert after["spread"] == {"best_unit_id": second.id, "worst_unit_id": first.id, "gap": 50.0}
