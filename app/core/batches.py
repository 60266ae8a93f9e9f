"""PostgreSQL: requests of one kind that a process receives while earlier ones are at the database go
there together, in one statement.

A hot-path write (or read) is one statement already; what costs is the round trip, the pooled
connection and the statement around it, about as much Python as the work itself. So the requests queue
here while ``MAX_IN_FLIGHT`` batches are at the database, and the next batch carries every queued one
(up to ``MAX_BATCH``) in ONE statement whose arrays hold each request's values (``unnest``). One
statement is one transaction: a batch is stored whole or not at all, and each caller hears only after it
committed. One key (an attempt, an examinee) is never in two batches of a kind at once — its later
request waits for the next batch — so two batches of a process never wait on each other's rows. A
subclass names the statement, its inputs (``Inputs``: the same columns a single request's statement takes
as named parameters) and the column that gives each returned row's key; a request whose key returns no
row was refused (nothing stored) or, for a read, found nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from app.core.driver import Driver, DriverRow, DriverSQL, pooled_driver, release_pooled

MAX_BATCH = 256
MAX_IN_FLIGHT = 2


class BatchFailed(Exception):
    """The batch's statement failed, so nothing of it was stored: each request is to be redone on its
    own (the lane then lets the ordinary route answer it, which surfaces the error of the one at fault)."""


@dataclass(frozen=True, slots=True)
class Inputs:
    """The rows ``alias`` a statement reads its requests' values from, written once for one request and
    for a batch: ``one()`` is a single row of named parameters (``(SELECT :a AS a, …) AS i``, SQLite),
    ``many()`` the arrays of a batch (``unnest(CAST(:a AS T[]), …) AS i(a, …)``, PostgreSQL), each
    parameter named after its column (with ``prefix``). The types are PostgreSQL's."""

    columns: tuple[tuple[str, str], ...]
    alias: str = "i"
    prefix: str = ""

    @classmethod
    def of(cls, alias: str = "i", prefix: str = "", **types: str) -> Inputs:
        return cls(tuple(types.items()), alias, prefix)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def one(self) -> str:
        return "(SELECT " + ", ".join(f":{self.prefix}{n} AS {n}" for n in self.names) + f") AS {self.alias}"

    def inline(self, template: str) -> str:
        """An ``UPDATE … FROM {inputs} WHERE …`` template for one request with its parameters in place of
        the inputs' row: the statement ``one()`` renders, without the join with a one-row subquery (SQLite
        runs that join for every request: 40 % more work for an autosave's claim)."""
        head, found, tail = template.partition("FROM {inputs}")
        update = head.lstrip().startswith("UPDATE") and tail.lstrip().startswith("WHERE")
        if not found or not update or "{inputs}" in tail:
            raise ValueError("inline() renders UPDATE … FROM {inputs} WHERE … templates only")
        columns = "|".join(self.names)
        text = re.sub(rf"\b{self.alias}\.({columns})\b", rf":{self.prefix}\1", head + tail.lstrip())
        if re.search(rf"\b{self.alias}\.\w", text):
            raise ValueError(f"the template reads {self.alias}. columns that the inputs do not have")
        return text

    def many(self) -> str:
        arrays = ", ".join(f"CAST(:{self.prefix}{name} AS {kind}[])" for name, kind in self.columns)
        return f"unnest({arrays}) AS {self.alias}({', '.join(self.names)})"

    def arrays(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        """The arrays of ``many()`` for these rows (each a mapping of the columns' values)."""
        return {self.prefix + name: [row[name] for row in rows] for name in self.names}


@dataclass(slots=True)
class Pending:
    """One request waiting for its batch: its key, its values (by column of the statement's ``inputs``;
    or, for a subclass that names ``arrays`` instead, one per array), any rows of its own
    (``Batches.parameters`` decides), and the future its caller awaits."""

    key: Hashable
    values: Any
    rows: list[Any] = field(default_factory=list)
    future: asyncio.Future[DriverRow | None] = field(init=False)


class Batches:
    """The queue and the batches in flight of one kind of statement, for one database."""

    statement: DriverSQL
    inputs: Inputs | None = None
    arrays: tuple[str, ...] = ()  # positional values instead of ``inputs``
    key_column: str

    def __init__(self, database: Any) -> None:
        self._database = database
        self._queue: list[Pending] = []
        self._busy: set[Hashable] = set()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # statements sent (for tests and benchmarks)

    async def send(self, pending: Pending) -> DriverRow | None:
        """The row the statement returned for this request once its batch committed; None if refused."""
        pending.future = asyncio.get_running_loop().create_future()
        self._queue.append(pending)
        self._pump()
        return await pending.future

    @classmethod
    def parameters(cls, batch: list[Pending]) -> dict[str, Any]:
        if cls.inputs is not None:
            return cls.inputs.arrays([item.values for item in batch])
        return {name: [item.values[i] for item in batch] for i, name in enumerate(cls.arrays)}

    @classmethod
    async def send_alone(cls, driver: Driver, pending: Pending) -> DriverRow | None:
        """The same statement for this request alone, on the caller's own connection and transaction
        (an ordinary route's request, or one whose session is overridden: the tests' transaction)."""
        rows = await driver.fetch(cls.statement, cls.parameters([pending]))
        return next((row for row in rows if row[cls.key_column] == pending.key), None)

    def _pump(self) -> None:
        while self._in_flight < MAX_IN_FLIGHT and self._queue:
            batch: list[Pending] = []
            waiting: list[Pending] = []
            taken: set[Hashable] = set()
            for item in self._queue:
                if len(batch) < MAX_BATCH and item.key not in taken and item.key not in self._busy:
                    batch.append(item)
                    taken.add(item.key)
                else:
                    waiting.append(item)
            if not batch:
                return
            self._queue = waiting
            self._busy |= taken
            self._in_flight += 1
            task = asyncio.create_task(self._run(batch, taken))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[Pending], taken: set[Hashable]) -> None:
        try:
            try:
                returned = await self._send(batch)
            except asyncpg.exceptions.DeadlockDetectedError:
                # Rows shared with another process's batch, locked in the other order: once more.
                returned = await self._send(batch)
        except Exception as exc:
            for item in batch:
                if not item.future.done():
                    failed = BatchFailed(f"{type(self).__name__}: {exc}")
                    failed.__cause__ = exc
                    item.future.set_exception(failed)
        else:
            for item in batch:
                if not item.future.done():
                    item.future.set_result(returned.get(item.key))
        finally:
            self._busy -= taken
            self._in_flight -= 1
            self._pump()

    async def _send(self, batch: list[Pending]) -> dict[Hashable, DriverRow]:
        pooled = await self._database.engine.raw_connection()
        try:
            rows = await pooled_driver(pooled).fetch(self.statement, self.parameters(batch))
        finally:
            await release_pooled(pooled)
        self.batches += 1
        return {row[self.key_column]: row for row in rows}
