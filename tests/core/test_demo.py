"""The demo data set loads into an empty database once and gives every role an account."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
import httpx2
import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.bank.models import Question
from app.core.config import Settings
from app.core.db import Database
from app.core.migrate import upgrade_database
from app.demo.loader import load_demo
from app.main import create_app
from app.org.models import Cadre, Unit

pytestmark = pytest.mark.real_commit


async def test_demo_loads_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    await anyio.to_thread.run_sync(upgrade_database, url)
    settings = Settings(environment="test", database_url=url)
    summary = await load_demo(settings)
    assert "243 questions" in summary
    ticket_no, pin = summary.split("admission tickets (ticket / PIN):\n  ")[1].split("\n")[0].split(" / ")
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
    assert ticket_no in usernames
    settings = Settings(environment="test", database_url=url, secret_key=settings.secret_key)
    app = create_app(settings, background=False)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://demo.test") as client:
            login = await client.post("/api/auth/login", json={"username": ticket_no, "password": pin})
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            exams = (await client.get("/api/exams", headers=headers)).json()
            started = await client.post(f"/api/exams/{exams[0]['id']}/attempts", headers=headers)
            assert started.status_code in (200, 201), started.text
            assert len(started.json()["questions"]) == 45
