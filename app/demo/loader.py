"""Loads the demo data set: accounts for every role, four units with rosters, and the question bank."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from sqlalchemy import insert, select

from app.accounts.models import Role, User
from app.accounts.principal import Principal
from app.bank import importer
from app.core.config import Settings
from app.core.db import Database
from app.core.security import hash_password
from app.exams import service as exam_service
from app.exams.admission import participants as exam_participants
from app.exams.schemas import ExamCreate, ParticipantsAdd, SampleSpec
from app.org.models import Cadre, Unit
from app.papers import service as papers_service
from app.papers.quotas import PRESETS

DEMO_PASSWORD = "exambank-demo"  # noqa: S105 - printed for the demo, never used outside it


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
        data=ExamCreate(name="演示：基本理论+考试", blueprint_id=blueprint.id, mode="formal", unit_ids=unit_ids,
                        seed=20261123),
        principal=principal,
        now=now,
    )
    await exam_service.draw_exam_papers(session, exam=exam, principal=principal, now=now)
    issued, _warnings = await exam_participants.add_participants(
        session, exam=exam, data=ParticipantsAdd(sample=SampleSpec(ratio=0.1)), principal=principal,
        secret=settings.secret_key.get_secret_value(), now=now,
    )
    return [(i.ticket_no, i.pin) for i in issued if i.pin]


async def load_demo(settings: Settings) -> str:
    """Load the demo once into the configured database; returns what a newcomer needs to log in."""
    database = Database(settings.database_url)
    units_data: list[dict[str, Any]] = _data("units.json")
    try:
        async with database.write_sessions() as session:
            codes = [u["code"] for u in units_data]
            if await session.scalar(select(Unit.id).where(Unit.code.in_(codes))) is not None:
                return "demo data already loaded"
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
            await session.commit()
    finally:
        await database.dispose()
    lines = [
        f"demo loaded: {len(units_data)} units, {result.created} questions",
        f"log in at /login with password {DEMO_PASSWORD!r} as: "
        + ", ".join(["organiser", "supervisor", "proctor", "editor", *(f"unitadmin-{c.lower()}" for c in codes)]),
    ]
    lines.append("a formal exam 「演示：基本理论+考试」 is open; three of its admission tickets (ticket / PIN):")
    lines.extend(f"  {ticket_no} / {pin}" for ticket_no, pin in tickets[:3])
    lines.append("(the organiser re-issues PINs on the exam's ticket page)")
    if not settings.admin_password:
        lines.append(f"administrator: {admin_name!r} with password {DEMO_PASSWORD!r}")
    return "\n".join(lines)
