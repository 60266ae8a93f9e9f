"""Plain factory functions for tests: they write through the session and commit (a savepoint of the
test's rolled-back transaction), so a request that fails and rolls back keeps the fixtures."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import AuthSession, Role, User
from app.bank.models import Question
from app.bank.normalise import normalise_question
from app.core.security import hash_password_sync, new_session_token, token_digest
from app.org.models import Cadre, Unit

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


@lru_cache
def _password_hash(password: str) -> str:
    return hash_password_sync(password)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


async def make_unit(session: AsyncSession, **overrides: Any) -> Unit:
    values: dict[str, Any] = {"code": unique("U"), "name": unique("单位"), "headcount": 200, "large": False}
    values.update(overrides)
    unit = Unit(**values)
    session.add(unit)
    await session.commit()
    return unit


async def make_cadre(session: AsyncSession, unit: Unit, **overrides: Any) -> Cadre:
    values: dict[str, Any] = {"name": unique("干部"), "rank": "ke", "employee_no": unique("E")}
    values.update(overrides)
    cadre = Cadre(unit_id=unit.id, **values)
    session.add(cadre)
    await session.commit()
    return cadre


async def make_user(
    session: AsyncSession,
    *roles: Role,
    unit_id: int | None = None,
    password: str = PASSWORD,
    **overrides: Any,
) -> User:
    user = User(
        username=overrides.pop("username", unique("user")),
        password_hash=_password_hash(password),
        roles=[str(r) for r in (roles or (Role.admin,))],
        unit_id=unit_id,
        **overrides,
    )
    session.add(user)
    await session.commit()
    return user


async def auth_headers(session: AsyncSession, user: User, *, now: datetime | None = None) -> dict[str, str]:
    """A bearer header for a fresh server-side session of ``user`` (skips the slow password check)."""
    token = new_session_token()
    now = now or datetime(2026, 9, 10, 1, 0, tzinfo=UTC)
    session.add(
        AuthSession(
            token_digest=token_digest(token),
            user_id=user.id,
            created_at=now - timedelta(minutes=1),
            expires_at=now + timedelta(days=365),
        )
    )
    await session.commit()
    return {"Authorization": f"Bearer {token}"}


async def headers_for(session: AsyncSession, *roles: Role, unit_id: int | None = None) -> dict[str, str]:
    return await auth_headers(session, await make_user(session, *roles, unit_id=unit_id))


def question_data(
    type: str = "single", category: str = "theory", unit_id: int | None = None, **overrides: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": type,
        "category": category,
        "stem": unique("依据宪法，下列说法正确的是第") + "题",
    }
    if type == "single":
        data |= {"options": [{"key": k, "text": f"选项{k}"} for k in "ABCD"], "answer": ["B"]}
    elif type == "multiple":
        data |= {"options": [{"key": k, "text": f"选项{k}"} for k in "ABCD"], "answer": ["A", "C"]}
    else:
        data |= {"answer": ["T"]}
    if unit_id is not None:
        data["unit_id"] = unit_id
    data.update(overrides)
    return data


async def make_question(
    session: AsyncSession,
    type: str = "single",
    category: str = "theory",
    unit_id: int | None = None,
    **overrides: Any,
) -> Question:
    """A stored question (version 1) written straight through the bank service's row builder."""
    from app.bank.models import QuestionVersion
    from app.bank.service import question_row

    clean, problems = normalise_question(question_data(type, category, unit_id, **overrides))
    assert clean is not None, problems
    question = Question(**question_row(clean), version=1)
    session.add(question)
    await session.flush()
    version = QuestionVersion(question_id=question.id, version=1, **clean.content())
    session.add(version)
    await session.flush()
    question.current_version_id = version.id
    await session.commit()
    return question
