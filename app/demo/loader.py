"""Loads the demo data set: accounts for every role, four units with rosters, the question bank, an open formal
exam, and a finished practice round and formal round (app/demo/rounds.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from sqlalchemy import insert, select

from app.accounts.models import Role, User
from app.accounts.principal import Principal
from app.bank import importer
from app.core.config import Settings
from app.core.db import Database
from app.core.security import hash_password
from app.demo.rounds import finished_round
from app.exams import service as exam_service
from app.exams.admission import participants as exam_participants
from app.exams.models import Exam, Participant
from app.exams.schemas import ExamCreate, ParticipantsAdd, ReissueRequest, SampleSpec
from app.org.models import Cadre, Unit
from app.papers import service as papers_service
from app.papers.quotas import PRESETS

DEMO_PASSWORD = "exambank-demo"  # noqa: S105 - printed for the demo, never used outside it
OPEN_EXAM_NAME = "演示：基本理论+考试"
TICKETS_SHOWN = 3


def _data(name: str) -> Any:
    return json.loads(resources.files("app.demo").joinpath(name).read_text(encoding="utf-8"))


async def _add_user(
    session: Any, username: str, roles: list[Role], password_hash: str, unit_id: int | None = None
) -> User:
    user = User(username=username, password_hash=password_hash, roles=[str(r) for r in roles], unit_id=unit_id)
    session.add(user)
    await session.flush()
    return user


async def _demo_exam(
    session: Any, principal: Principal, unit_ids: list[int], settings: Settings
) -> list[tuple[str, str]]:
    """A formal exam on the preset blueprint, papers drawn and participants sampled: ready to be taken."""
    now = datetime.now(UTC)
    blueprint = await papers_service.ensure_preset(session, key=next(iter(PRESETS)), principal=principal, now=now)
    exam = await exam_service.create_exam(
        session,
        data=ExamCreate(
            name=OPEN_EXAM_NAME, blueprint_id=blueprint.id, mode="formal", unit_ids=unit_ids, seed=20261123
        ),
        principal=principal,
        now=now,
    )
    await exam_service.draw_exam_papers(session, exam=exam, principal=principal, now=now)
    issued, _warnings = await exam_participants.add_participants(
        session,
        exam=exam,
        data=ParticipantsAdd(sample=SampleSpec(ratio=0.1)),
        principal=principal,
        secret=settings.secret_key.get_secret_value(),
        now=now,
    )
    return [(i.ticket_no, i.pin) for i in issued if i.pin]


async def _fresh_tickets(session: Any, settings: Settings) -> list[tuple[str, str]]:
    """A re-run of the demo: new PINs for the first tickets of the open exam (the old PINs stop working)."""
    exam = await session.scalar(select(Exam).where(Exam.name == OPEN_EXAM_NAME).order_by(Exam.id.desc()))
    admin = await session.scalar(select(User).order_by(User.id))
    if exam is None or admin is None:
        return []
    cadre_ids = list(await session.scalars(
        select(Participant.cadre_id).where(Participant.exam_id == exam.id).order_by(Participant.id).limit(TICKETS_SHOWN)
    ))  # fmt: skip
    if not cadre_ids:
        return []
    organiser = Principal(id=admin.id, username=admin.username, roles=frozenset(Role), unit_id=None, session_digest="")
    issued = await exam_participants.reissue_pins(
        session, exam=exam, request=ReissueRequest(cadre_ids=cadre_ids), principal=organiser,
        secret=settings.secret_key.get_secret_value(), now=datetime.now(UTC),
    )  # fmt: skip
    return [(i.ticket_no, i.pin) for i in issued if i.pin]


def _ticket_lines(tickets: list[tuple[str, str]]) -> list[str]:
    lines = [f"进行中的督导考试「{OPEN_EXAM_NAME}」的 {len(tickets)} 张准考证（准考证号 / 密码）："]
    lines.extend(f"  {ticket_no} / {pin}" for ticket_no, pin in tickets)
    lines.append("（考务可在该考试的准考证页面重新发放密码）")
    return lines


async def load_demo(settings: Settings) -> str:
    """Load the demo once into the configured database; returns what a newcomer needs to log in."""
    database = Database(settings.database_url)
    units_data: list[dict[str, Any]] = _data("units.json")
    try:
        async with database.write_sessions() as session:
            codes = [u["code"] for u in units_data]
            if await session.scalar(select(Unit.id).where(Unit.code.in_(codes))) is not None:
                fresh = await _fresh_tickets(session, settings)
                await session.commit()
                return "\n".join(["演示数据已载入，本次未重复载入。", *_ticket_lines(fresh)])
            password_hash = await hash_password(DEMO_PASSWORD)
            units = [Unit(**u) for u in units_data]
            session.add_all(units)
            await session.flush()
            unit_ids = {u.code: u.id for u in units}
            await session.execute(
                insert(Cadre),
                [
                    {
                        "unit_id": unit_ids[c["unit_code"]],
                        "name": c["name"],
                        "rank": c["rank"],
                        "employee_no": c["employee_no"],
                    }
                    for c in _data("cadres.json")
                ],
            )
            admin_name = settings.admin_username or "admin"
            admin = await session.scalar(select(User).where(User.username == admin_name))
            if admin is None:
                admin_password = settings.admin_password.get_secret_value() if settings.admin_password else None
                admin_hash = await hash_password(admin_password) if admin_password else password_hash
                admin = await _add_user(session, admin_name, list(Role), admin_hash)
            accounts = [
                ("organiser", [Role.organiser, Role.proctor]),
                ("supervisor", [Role.supervisor]),
                ("proctor", [Role.proctor]),
                ("editor", [Role.bank_editor]),
            ]
            for username, roles in accounts:
                await _add_user(session, username, roles, password_hash)
            for code, unit_id in unit_ids.items():
                await _add_user(session, f"unitadmin-{code.lower()}", [Role.unit_admin], password_hash, unit_id)
            principal = Principal(
                id=admin.id, username=admin.username, roles=frozenset(Role), unit_id=None, session_digest=""
            )
            questions = resources.files("app.demo").joinpath("questions.json").read_bytes()
            result = await importer.import_questions(
                session,  # the demo loads alone: one session reads and writes
                session,
                filename="questions.json",
                content=questions,
                defaults=importer.ImportDefaults(),
                principal=principal,
                now=datetime.now(UTC),
            )
            tickets = await _demo_exam(session, principal, list(unit_ids.values()), settings)
            blueprint_id = (await papers_service.ensure_preset(
                session, key=next(iter(PRESETS)), principal=principal, now=datetime.now(UTC)
            )).id  # fmt: skip
            secret = settings.secret_key.get_secret_value()
            today = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
            await finished_round(
                session, principal, name="演示：第三季度自行组织练习", mode="practice", blueprint_id=blueprint_id,
                unit_ids=unit_ids, at=today - timedelta(days=30), seed=20260901, secret=secret, publish=False,
            )  # fmt: skip
            await finished_round(
                session, principal, name="演示：第三季度“基本理论+”督导考试", mode="formal",
                blueprint_id=blueprint_id, unit_ids=unit_ids, at=today - timedelta(days=14), seed=20260915,
                secret=secret, publish=True,
            )  # fmt: skip
            await session.commit()
    finally:
        await database.dispose()
    lines = [
        f"演示数据已载入：{len(units_data)} 个单位，{result.created} 道题目，"
        "一场已结束的练习和一场已公布成绩的督导考试。",
        f"请在 /login 用密码 {DEMO_PASSWORD} 登录以下账号："
        + "、".join(
            [
                "organiser（考务）",
                "supervisor（督导）",
                "proctor（监考）",
                "editor（题库管理员）",
                *(f"unitadmin-{c.lower()}（单位管理员）" for c in codes),
            ]
        ),
        *_ticket_lines(tickets[:TICKETS_SHOWN]),
    ]
    if not settings.admin_password:
        lines.append(f"系统管理员：{admin_name}，密码 {DEMO_PASSWORD}")
    return "\n".join(lines)
