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
from app.org.models import Cadre, Unit

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
                session,
                filename="questions.json",
                content=questions,
                defaults=importer.ImportDefaults(),
                principal=principal,
                now=datetime.now(UTC),
            )
            await session.commit()
    finally:
        await database.dispose()
    lines = [
        f"demo loaded: {len(units_data)} units, {result.created} questions",
        f"log in at /login with password {DEMO_PASSWORD!r} as: "
        + ", ".join(["organiser", "supervisor", "proctor", "editor", *(f"unitadmin-{c.lower()}" for c in codes)]),
    ]
    if not settings.admin_password:
        lines.append(f"administrator: {admin_name!r} with password {DEMO_PASSWORD!r}")
    return "\n".join(lines)
