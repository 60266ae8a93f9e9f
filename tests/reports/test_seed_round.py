"""The seed notice's first round through the report engine: every printed figure, exactly."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
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
from tests.reports.seed_round import ABSENCES, INCIDENTS, UNITS, reachable, unit_examinees, unit_scores


def test_constructed_scores_are_possible_on_the_paper() -> None:
    assert [s for s in range(101) if not reachable(s)] == [1, 99]
    for spec in UNITS:
        scores = unit_scores(spec)
        assert all(reachable(score) for score in scores), spec.name
        assert (len(scores), sum(scores), scores.count(100)) == (spec.sat, spec.total, spec.full)
        assert sum(s >= 90 for s in scores) == spec.excellent
        assert sum(s < 60 for s in scores) == spec.failing


async def build_seed_round(session: AsyncSession) -> tuple[int, dict[str, int]]:
    units = await make_units(session, [spec.name for spec in UNITS], [spec.headcount for spec in UNITS])
    by_name = {unit.name: unit for unit in units}
    exam = await make_exam(session, units, name="首批深化作风整顿优化营商环境专项督导考试")
    first_cadre: dict[str, int] = {}
    for spec, unit in zip(UNITS, units, strict=True):
        paper = await make_paper(session, exam, unit)
        seated = await seat_examinees(session, exam, paper, [Seat(rank, score) for rank, score in unit_examinees(spec)])
        first_cadre[spec.name] = seated[0].cadre_id
    for name, reason in ABSENCES:
        await record_absence(session, exam, by_name[name], reason)
    for name, kind in INCIDENTS:
        await record_incident(session, exam, by_name[name], kind, first_cadre[name])
    return exam.id, {unit.name: unit.id for unit in units}


async def test_seed_round_reproduces_the_notice(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    exam_id, ids = await build_seed_round(session)
    headers = await headers_for(session, Role.supervisor)
    response = await client.get(f"/api/exams/{exam_id}/report", headers=headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    names = {unit_id: name for name, unit_id in ids.items()}

    overall = report["overall"]
    assert (overall["sat"], overall["by_rank"]) == (581, {"ting": 17, "chu": 266, "ke": 298})
    assert (overall["headcount"], overall["headcount_share"]) == (3301, 17.6)
    assert overall["average"] == 87.4
    assert (overall["pass_rate"], overall["excellence_rate"], overall["full_rate"]) == (98.1, 53.5, 14.6)
    assert overall["excellent_count"] * 2 > overall["sat"]  # 90分及以上超过总人数一半
    assert overall["absent"] == 1

    ranks = {row["rank"]: row for row in report["ranks"]}
    assert [ranks[r]["average"] for r in ("ting", "chu", "ke")] == [91.2, 87.8, 86.8]
    assert ranks["ting"]["excellence_rate"] > ranks["chu"]["excellence_rate"] > ranks["ke"]["excellence_rate"]
    assert ranks["chu"]["pass_rate"] < ranks["ke"]["pass_rate"]  # 处级干部的及格率略低于科级干部

    units = report["units"]
    top = [(names[u["unit_id"]], u["average"], u["excellence_rate"]) for u in units[:3]]
    assert top == [("龙江银行", 99.4, 100.0), ("省食药监局", 98.6, 100.0), ("省国土厅", 96.9, 90.0)]
    bottom = [(names[u["unit_id"]], u["average"], u["excellence_rate"]) for u in reversed(units[-3:])]
    assert bottom == [("省法院", 73.9, 6.0), ("省安监局", 81.3, 26.7), ("省农信社", 82.1, 30.0)]
    assert [u["position"] for u in units] == list(range(1, 19))
    leaders = [names[u["unit_id"]] for u in units if u["full_count"] > 10]
    assert leaders == ["龙江银行", "省食药监局", "省国土厅", "省环保厅"]
    assert {names[u["unit_id"]] for u in units if u["fail_count"] > 0} == {
        "省法院",
        "省农信社",
        "省安监局",
        "省司法厅",
        "省交通厅",
        "省人社厅",
        "省商务厅",
    }
    assert report["spread"] == {"best_unit_id": ids["龙江银行"], "worst_unit_id": ids["省法院"], "gap": 25.5}
    assert [names[row["unit_id"]] for row in report["discipline"]] == ["省工商局", "省煤管局", "省法院"]
    assert [(names[a["unit_id"]], a["reason"]) for a in report["absences"]] == [("省交通厅", "因病")]
    assert next(u for u in units if u["unit_id"] == ids["省交通厅"])["absent"] == 1
