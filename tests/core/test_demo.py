"""The demo data set loads into an empty database once and gives every role an account."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.bank.models import Question
from app.core.config import Settings
from app.core.db import Database
from app.core.migrate import upgrade_database
from app.demo.loader import load_demo
from app.org.models import Cadre, Unit

pytestmark = pytest.mark.real_commit


async def test_demo_loads_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    await anyio.to_thread.run_sync(upgrade_database, url)
    settings = Settings(environment="test", database_url=url)
    summary = await load_demo(settings)
    assert "243 questions" in summary
    assert await load_demo(settings) == "demo data already loaded"
    database = Database(url)
    try:
        async with database.read_sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Unit)) == 4
            assert await session.scalar(select(func.count()).select_from(Cadre)) == 302
            assert await session.scalar(select(func.count()).select_from(Question)) == 243
            usernames = set((await session.scalars(select(User.username))).all())
    finally:
        await database.dispose()
    assert {"admin", "organiser", "supervisor", "proctor", "editor", "unitadmin-gtt"} <= usernames
