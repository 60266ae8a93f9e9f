"""The demo data set loads into an empty database once, gives every role an account and finished rounds with
data, and a second run prints fresh admission tickets."""

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
from app.exams.models import Attempt, Exam
from app.main import create_app
from app.org.models import Cadre, Unit

pytestmark = pytest.mark.real_commit


async def test_demo_loads_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    await anyio.to_thread.run_sync(upgrade_database, url)
    settings = Settings(environment="test", database_url=url)
    summary = await load_demo(settings)
    assert "243 道题目" in summary
    first_ticket, first_pin = summary.split("（准考证号 / 密码）：\n  ")[1].split("\n")[0].split(" / ")
    again = await load_demo(settings)
    assert again.startswith("演示数据已载入，本次未重复载入。")
    ticket_no, pin = again.split("（准考证号 / 密码）：\n  ")[1].split("\n")[0].split(" / ")
    assert ticket_no == first_ticket  # the same ticket, with a new PIN: the old one stops working
    database = Database(url)
    try:
        async with database.read_sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Unit)) == 4
            assert await session.scalar(select(func.count()).select_from(Cadre)) == 302
            assert await session.scalar(select(func.count()).select_from(Question)) == 243
            rounds = dict((await session.execute(
                select(Exam.name, Exam.status).where(Exam.status.in_(["closed", "published"]))
            )).all())  # fmt: skip
            graded = await session.scalar(
                select(func.count(Attempt.id))
                .where(Attempt.score.is_not(None), Attempt.status == "submitted")
                .select_from(Attempt)
                .where(Attempt.status == "submitted", Attempt.score.is_not(None))
            )
            scores = (await session.execute(select(func.min(Attempt.score), func.max(Attempt.score)))).one()
            usernames = set((await session.scalars(select(User.username))).all())
    finally:
        await database.dispose()
    assert {"admin", "organiser", "supervisor", "proctor", "editor", "unitadmin-gtt"} <= usernames
    assert ticket_no in usernames
    assert sorted(rounds.values()) == ["closed", "published"]  # a finished practice round and a published formal one
    assert graded == 2 * 4 * 7
    assert scores[0] < scores[1]  # the units' levels differ: the report has something to rank
    settings = Settings(environment="test", database_url=url, secret_key=settings.secret_key)
    app = create_app(settings, background=False)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://demo.test") as client:
            stale = await client.post("/api/auth/login", json={"username": ticket_no, "password": first_pin})
            assert stale.status_code == 401
            login = await client.post("/api/auth/login", json={"username": ticket_no, "password": pin})
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            exams = (await client.get("/api/exams", headers=headers)).json()["items"]
            started = await client.post(f"/api/exams/{exams[0]['id']}/attempts", headers=headers)
            assert started.status_code in (200, 201), started.text
            assert len(started.json()["questions"]) == 45
