"""Practice (attempts per active cadre, units that ran none) and bank-building (policy bank, duty coverage)."""

from __future__ import annotations

import httpx2
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.bank.models import Question
from app.org.models import UnitDuty
from tests.factories import headers_for, make_cadre, make_question
from tests.reports.factories_reports import Seat, make_exam, make_paper, make_units, seat_examinees


async def test_practice_report(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    busy, idle, slow = await make_units(session, ["练兵单位", "未练单位", "少练单位"], [50, 50, 50])
    first = await make_exam(session, [busy], name="练习一", mode="practice")
    second = await make_exam(session, [busy], name="练习二", mode="practice")
    await seat_examinees(
        session,
        first,
        await make_paper(session, first, busy),
        [
            Seat("ke", 80, earlier_scores=[70]),
            Seat("ke", 60, in_progress=True),
        ],
    )
    await seat_examinees(
        session,
        second,
        await make_paper(session, second, busy),
        [
            Seat("chu", 75),
            Seat("ke", 90, earlier_scores=[50]),
        ],
    )
    await make_cadre(session, busy, is_active=False)
    formal = await make_exam(session, [busy, idle])  # formal attempts are not practice
    await seat_examinees(session, formal, await make_paper(session, formal, idle), [Seat("ke", 88), Seat("ke", 77)])
    third = await make_exam(session, [slow], name="练习三", mode="practice")
    await seat_examinees(session, third, await make_paper(session, third, slow), [Seat("ke", 66)])
    for _ in range(2):
        await make_cadre(session, slow)

    headers = await headers_for(session, Role.supervisor)
    body = (await client.get("/api/reports/practice", headers=headers)).json()
    rows = {row["unit_id"]: row for row in body["units"]}
    assert body["target_attempts_per_cadre"] == 1.5
    assert {
        k: rows[busy.id][k]
        for k in ("practice_exams", "attempts", "active_cadres", "attempts_per_cadre", "below_target", "ran_none")
    } == {
        "practice_exams": 2,
        "attempts": 6,
        "active_cadres": 4,
        "attempts_per_cadre": 1.5,
        "below_target": False,
        "ran_none": False,
    }
    assert (rows[idle.id]["practice_exams"], rows[idle.id]["attempts_per_cadre"], rows[idle.id]["ran_none"]) == (
        0,
        0.0,
        True,
    )
    assert rows[idle.id]["below_target"] is True
    assert (rows[slow.id]["attempts_per_cadre"], rows[slow.id]["below_target"]) == (0.3, True)  # 1 / 3
    assert "未练单位" in body["units_without_practice"] and "练兵单位" not in body["units_without_practice"]


async def test_bank_report(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    (unit,) = await make_units(session, ["省国土厅"], [170])
    await make_question(
        session,
        "single",
        "policy",
        unit.id,
        explanation="因为……",
        legal_basis="《土地管理法》第十条",
        knowledge_point="行政许可",
    )
    await make_question(session, "single", "policy", unit.id, knowledge_point="行政许可")
    await make_question(
        session, "multiple", "policy", unit.id, explanation="见手册", legal_basis="  ", knowledge_point="执法程序"
    )
    await make_question(session, "judge", "policy", unit.id)
    retired = await make_question(session, "single", "policy", unit.id, knowledge_point="信访")
    await session.execute(update(Question).where(Question.id == retired.id).values(status="retired"))
    await make_question(session, "single", "theory", knowledge_point="统计监测")  # shared, not the unit's
    duties = ("行政许可", "执法程序", "信访", "统计监测")
    session.add_all([UnitDuty(unit_id=unit.id, knowledge_point=point) for point in duties])
    await session.commit()

    headers = await headers_for(session, Role.organiser)
    body = (await client.get("/api/reports/banks", headers=headers)).json()
    row = next(r for r in body["units"] if r["unit_id"] == unit.id)
    assert row == {
        "unit_id": unit.id,
        "name": "省国土厅",
        "policy_questions": 4,
        "by_type": {"single": 2, "multiple": 1, "judge": 1},
        "explanation_share": 50.0,
        "legal_basis_share": 25.0,
        "duty_points": 4,
        "duty_points_covered": 2,
        "duty_coverage": 50.0,
        "uncovered_duty_points": ["信访", "统计监测"],
    }
