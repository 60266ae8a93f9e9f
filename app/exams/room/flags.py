"""The questions an examinee marked for review (标记): kept with his attempt so another device shows them too.

A table of its own, written beside the save that carries them (one small upsert), so the answers' hot path
and its SQL stay as they are: a save without ``flags`` never touches this table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class AttemptFlags(Base):
    __tablename__ = "attempt_flags"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True)
    # Question numbers as this examinee sees them (the ``no`` of the served paper).
    question_nos: Mapped[list[Any]] = mapped_column()
    saved_at: Mapped[datetime] = mapped_column()


def _upsert(dialect: Any) -> Any:
    statement = dialect.insert(AttemptFlags.__table__)
    return statement.on_conflict_do_update(
        index_elements=["attempt_id"],
        set_={"question_nos": statement.excluded.question_nos, "saved_at": statement.excluded.saved_at},
    )


_UPSERT = {"sqlite": _upsert(sqlite), "postgresql": _upsert(postgresql)}


async def save_flags(session: AsyncSession, *, attempt_id: int, question_nos: Sequence[int], now: datetime) -> None:
    """Replace the attempt's marked questions (called only after the save that carried them was accepted)."""
    values = {"attempt_id": attempt_id, "question_nos": sorted(set(question_nos)), "saved_at": now}
    await session.execute(_UPSERT[session.get_bind().dialect.name], values)


async def read_flags(session: AsyncSession, attempt_id: int) -> list[int]:
    """The attempt's marked questions, in question order ([] when none were ever saved)."""
    stored = await session.scalar(select(AttemptFlags.question_nos).where(AttemptFlags.attempt_id == attempt_id))
    return [int(no) for no in stored or []]
