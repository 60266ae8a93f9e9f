"""An import holds the SQLite write lock only for its final insert (issue 13, point 4), and plans again when
the bank changed between its plan and its write."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.accounts.models import Role
from app.bank import importer
from app.bank.importer import SYSTEM_PRINCIPAL, ImportDefaults, import_questions
from app.bank.models import Question
from app.bank.schemas import ImportResult
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import Database
from tests.exams.factories_attempts import live_client
from tests.factories import auth_headers, make_user

NOW = datetime(2026, 9, 10, 1, 0, tzinfo=UTC)


def bank_file(stems: list[str]) -> bytes:
    items = [{"type": "single", "category": "theory", "stem": stem, "options": ["甲", "乙", "丙"], "answer": "B"}
             for stem in stems]  # fmt: skip
    return json.dumps(items, ensure_ascii=False).encode()


async def run_import(url: str, content: bytes, progress: object = None) -> ImportResult:
    database = Database(url, pool_size=2)
    try:
        async with database.read_sessions() as reader, database.write_sessions() as writer:
            result = await import_questions(reader, writer, filename="bank.json", content=content,
                                            defaults=ImportDefaults(), principal=SYSTEM_PRINCIPAL, now=NOW,
                                            progress=progress)  # type: ignore[arg-type]  # fmt: skip
            await writer.commit()
            return result
    finally:
        await database.dispose()


async def count_stem(url: str, stem: str) -> int:
    database = Database(url, pool_size=1)
    try:
        async with database.read_sessions() as session:
            return await session.scalar(select(func.count()).select_from(Question).where(Question.stem == stem)) or 0
    finally:
        await database.dispose()


async def test_no_write_lock_is_held_while_the_file_is_checked(committed_database_url: str) -> None:
    if make_url(committed_database_url).get_backend_name() != "sqlite":
        pytest.skip("the write lock is SQLite's")
    path = make_url(committed_database_url).database
    await run_import(committed_database_url, bank_file([f"已有题目{n}" for n in range(200)]))
    free_at: dict[str, bool] = {}

    def probe(stage: str) -> None:
        # Another writer (the exam's autosave) asks for the lock with no patience at all.
        other = sqlite3.connect(str(path), timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            free_at[stage] = True
        except sqlite3.OperationalError:
            free_at[stage] = False
        finally:
            other.close()

    result = await run_import(committed_database_url, bank_file([f"新题目{n}" for n in range(200)]), probe)
    assert result.created == 200
    assert free_at == {"parse": True, "validate": True, "duplicates": True, "write": True}


async def test_a_change_between_plan_and_write_is_planned_again(committed_database_url: str) -> None:
    stem = "导入期间别人也导入了这道题"
    content = bank_file([stem, "另一道题"])
    interjected: list[ImportResult] = []

    def interject(stage: str) -> None:
        if stage == "write" and not interjected:
            # Someone else imports the same question after this import planned it as new.
            worker = threading.Thread(
                target=lambda: interjected.append(asyncio.run(run_import(committed_database_url, bank_file([stem]))))
            )
            worker.start()
            worker.join(timeout=60)

    result = await run_import(committed_database_url, content, interject)
    assert interjected[0].created == 1
    assert (result.created, result.unchanged) == (1, 1)
    assert await count_stem(committed_database_url, stem) == 1


async def test_the_import_route_holds_no_write_lock_while_it_plans(
    committed_settings: Settings, committed_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if make_url(committed_database_url).get_backend_name() != "sqlite":
        pytest.skip("the write lock is SQLite's")
    path = make_url(committed_database_url).database
    free: list[bool] = []
    search = importer.find_duplicates

    def probed(*args: Any) -> Any:
        other = sqlite3.connect(str(path), timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            free.append(True)
        except sqlite3.OperationalError:
            free.append(False)
        finally:
            other.close()
        return search(*args)

    monkeypatch.setattr(importer, "find_duplicates", probed)
    database = Database(committed_database_url, pool_size=2)
    try:
        async with database.write_sessions() as session:
            headers = await auth_headers(session, await make_user(session, Role.bank_editor))
        async with live_client(committed_settings, database, FrozenClock(NOW)) as client:
            response = await client.post("/api/questions/import", headers=headers,
                                         files={"file": ("bank.json", bank_file(["经由接口导入的题目"]))})  # fmt: skip
        assert response.status_code == 200, response.text
        assert free == [True]
    finally:
        await database.dispose()
