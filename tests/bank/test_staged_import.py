"""An import writes its new questions in short transactions, staged and invisible, and publishes them in one
last transaction (issue 13, point 4): all of the file or nothing is ever seen, and a failed or dead
import's staged rows are deleted."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.bank import importer
from app.bank.importer import SYSTEM_PRINCIPAL, ImportDefaults, import_questions
from app.bank.models import INCLUDE_STAGED, Question, QuestionImport, QuestionVersion
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from app.papers.repository import load_candidates
from app.reports.repository import policy_bank_by_unit
from tests.factories import headers_for, make_unit

NOW = datetime(2026, 9, 10, 1, 0, tzinfo=UTC)
PREFIX = "分批导入的题目"


class ProcessDied(BaseException):
    """The server going down in the middle of an import (not an ``Exception``: nothing handles it)."""


def bank_file(count: int, *, unit_code: str | None = None, start: int = 0) -> bytes:
    items: list[dict[str, Any]] = [
        {"type": "single", "category": "theory", "stem": f"{PREFIX}{n}号", "options": ["甲", "乙", "丙"],
         "answer": "B", "tags": ["分批"]}
        for n in range(start, start + count)
    ]  # fmt: skip
    if unit_code is not None:
        for item in items[::2]:
            item.update(category="policy", unit_code=unit_code)
    return json.dumps(items, ensure_ascii=False).encode()


async def run_import(database: Database, content: bytes, *, clock: FrozenClock | None = None) -> Any:
    async with database.read_sessions() as reader, database.write_sessions() as writer:
        return await import_questions(reader, writer, filename="bank.json", content=content,
                                      defaults=ImportDefaults(), principal=SYSTEM_PRINCIPAL, now=NOW,
                                      clock=clock or FrozenClock(NOW))  # fmt: skip


async def visible(session: AsyncSession) -> int:
    query = select(func.count()).select_from(Question).where(Question.stem.startswith(PREFIX))
    return await session.scalar(query) or 0


async def staged(session: AsyncSession) -> tuple[int, int, int]:
    """Staged questions, staged versions and listed imports, seen past the staging rule."""
    everything = {INCLUDE_STAGED: True}
    questions = await session.scalar(
        select(func.count()).select_from(Question).where(Question.import_id.is_not(None)), execution_options=everything
    )
    versions = await session.scalar(
        select(func.count()).select_from(QuestionVersion).where(QuestionVersion.import_id.is_not(None)),
        execution_options=everything,
    )
    imports = await session.scalar(select(func.count()).select_from(QuestionImport))
    return questions or 0, versions or 0, imports or 0


def between_batches(monkeypatch: pytest.MonkeyPatch, hook: Callable[[int], Awaitable[None]]) -> list[int]:
    """Small batches, and ``hook(n)`` after the n-th batch committed; returns the batch numbers seen."""
    monkeypatch.setattr(importer, "BATCH_ROWS", 7)
    seen: list[int] = []
    pause = importer.yield_to_other_writers

    async def paused() -> None:
        seen.append(len(seen) + 1)
        await hook(seen[-1])
        await pause()

    monkeypatch.setattr(importer, "yield_to_other_writers", paused)
    return seen


async def test_an_import_of_several_batches_is_all_visible_after(
    committed_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def nothing(_batch: int) -> None:
        return None

    batches = between_batches(monkeypatch, nothing)
    database = Database(committed_database_url, pool_size=2)
    try:
        result = await run_import(database, bank_file(30))
        assert result.created == 30
        assert batches == [1, 2, 3, 4, 5]
        async with database.read_sessions() as session:
            assert await visible(session) == 30
            assert await staged(session) == (0, 0, 0)
            tagged = select(func.count()).select_from(Question).where(Question.tags.is_not(None))
            assert await session.scalar(tagged.where(Question.stem.startswith(PREFIX))) == 30
    finally:
        await database.dispose()


async def test_a_concurrent_reader_never_sees_part_of_an_import(
    committed_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(committed_database_url, pool_size=3)
    observed: list[tuple[int, int]] = []

    async def read_beside(_batch: int) -> None:
        async with database.read_sessions() as session:
            observed.append((await visible(session), (await staged(session))[0]))

    between_batches(monkeypatch, read_beside)
    try:
        await run_import(database, bank_file(12, start=28))  # already in the bank before the next import
        observed.clear()
        result = await run_import(database, bank_file(40))
        assert result.created == 28 and result.unchanged == 12
        # After each batch the reader sees the 12 published before, never one of the new ones, while the
        # staged rows grow batch by batch.
        assert [seen for seen, _staged in observed] == [12, 12, 12, 12]
        assert [rows for _seen, rows in observed] == [7, 14, 21, 28]
        async with database.read_sessions() as session:
            assert await visible(session) == 40
    finally:
        await database.dispose()


async def test_a_failure_between_batches_leaves_nothing_visible_and_its_staged_rows_deleted(
    committed_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fail_at_third(batch: int) -> None:
        if batch == 3:
            raise RuntimeError("disk full")

    between_batches(monkeypatch, fail_at_third)
    database = Database(committed_database_url, pool_size=2)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            await run_import(database, bank_file(30))
        async with database.read_sessions() as session:
            assert await visible(session) == 0
            assert await staged(session) == (0, 0, 0)
    finally:
        await database.dispose()


async def test_a_dead_import_is_invisible_and_deleted_once_abandoned(
    committed_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def die_at_second(batch: int) -> None:
        if batch == 2:
            raise ProcessDied  # no clean-up of its own

    async def no_cleanup(_session: AsyncSession, _import_id: int) -> None:
        return None

    between_batches(monkeypatch, die_at_second)
    monkeypatch.setattr(importer, "_discard_after_failure", no_cleanup)
    database = Database(committed_database_url, pool_size=2)
    try:
        with pytest.raises(ProcessDied):
            await run_import(database, bank_file(30))
        async with database.read_sessions() as session:
            assert await visible(session) == 0
            assert await staged(session) == (14, 14, 1)
        monkeypatch.undo()
        # Soon after, it may be an import still under way in another server: left alone.
        clock = FrozenClock(NOW + importer.ABANDONED_AFTER - timedelta(seconds=1))
        assert (await run_import(database, bank_file(3, start=500), clock=clock)).created == 3
        async with database.read_sessions() as session:
            assert await staged(session) == (14, 14, 1)
        clock.advance(seconds=2)
        async with database.write_sessions() as session:
            assert await importer.discard_abandoned_imports(session, now=clock.now()) == 1
        async with database.read_sessions() as session:
            assert await staged(session) == (0, 0, 0)
            assert await visible(session) == 3
    finally:
        await database.dispose()


async def test_every_read_path_agrees_that_staged_questions_are_invisible(
    client: httpx2.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.bank_editor)
    content = bank_file(10, unit_code=unit.code)
    seen_while_staged: list[dict[str, Any]] = []

    async def reads() -> dict[str, Any]:
        """What each read path shows of the file's questions."""
        everything = {INCLUDE_STAGED: True}
        ids = list(await session.scalars(
            select(Question.id).where(Question.stem.startswith(PREFIX)).order_by(Question.id),
            execution_options=everything,
        ))  # fmt: skip
        listed = await client.get("/api/questions", params={"limit": 100}, headers=headers)
        searched = await client.get("/api/questions", params={"q": PREFIX, "limit": 100}, headers=headers)
        exported = await client.get("/api/questions/export", params={"format": "json"}, headers=headers)
        versions = await client.get(f"/api/questions/{ids[0]}/versions", headers=headers)
        drawn = await load_candidates(session, types=["single"], categories=["theory", "policy"], unit_ids=[unit.id])
        source = importer.read_source("again.json", content, ImportDefaults())
        again = await importer.plan_import(session, source, SYSTEM_PRINCIPAL)
        policy = await policy_bank_by_unit(session, {unit.id})
        return {
            "list": sum(q["stem"].startswith(PREFIX) for q in listed.json()["items"]),
            "search": searched.json()["total"],
            "get": sum([(await client.get(f"/api/questions/{i}", headers=headers)).status_code == 200 for i in ids]),
            "versions": len(versions.json()) if versions.status_code == 200 else 0,
            "export": sum(item["stem"].startswith(PREFIX) for item in json.loads(exported.content)),
            "draw": len({row[0] for row in drawn} & set(ids)),
            "duplicate search": again.unchanged,
            "statistics": sum(row.questions for row in policy),
            "revision": (await importer.bank_revision(session))[0],
        }

    publish = importer.publish_import

    async def read_then_publish(*args: Any) -> bool:
        seen_while_staged.append(await reads())
        return await publish(*args)

    monkeypatch.setattr(importer, "publish_import", read_then_publish)
    monkeypatch.setattr(importer, "BATCH_ROWS", 4)
    revision = (await importer.bank_revision(session))[0]
    result = await import_questions(session, session, filename="bank.json", content=content,
                                    defaults=ImportDefaults(), principal=SYSTEM_PRINCIPAL, now=NOW)  # fmt: skip
    assert result.created == 10
    monkeypatch.setattr(importer, "publish_import", publish)
    hidden = {"list": 0, "search": 0, "get": 0, "versions": 0, "export": 0, "draw": 0, "duplicate search": 0,
              "statistics": 0, "revision": revision}  # fmt: skip
    shown = {"list": 10, "search": 10, "get": 10, "versions": 1, "export": 10, "draw": 10, "duplicate search": 10,
             "statistics": 5, "revision": revision + 10}  # fmt: skip
    assert seen_while_staged == [hidden]
    assert await reads() == shown


async def test_a_dead_import_is_deleted_at_start_up(
    committed_settings: Settings, committed_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def die_at_first(_batch: int) -> None:
        raise ProcessDied

    async def no_cleanup(_session: AsyncSession, _import_id: int) -> None:
        return None

    between_batches(monkeypatch, die_at_first)
    monkeypatch.setattr(importer, "_discard_after_failure", no_cleanup)
    database = Database(committed_database_url, pool_size=2)
    try:
        with pytest.raises(ProcessDied):
            await run_import(database, bank_file(10))
        async with database.read_sessions() as session:
            assert await staged(session) == (7, 7, 1)
        monkeypatch.undo()
        later = FrozenClock(NOW + importer.ABANDONED_AFTER + timedelta(seconds=1))
        app = create_app(committed_settings, database=database, clock=later, background=False)
        async with app.router.lifespan_context(app), database.read_sessions() as session:
            assert await staged(session) == (0, 0, 0)
    finally:
        await database.dispose()
