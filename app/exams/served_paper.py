"""A paper as served to examinees, parsed once per process.

A paper's ``content`` never changes once drawn (a redraw replaces it and stamps a new ``created_at``;
regrade changes only the key), so the parsed form is cached by (paper id, created_at). Keys are never
cached: every save reads the current key in the same statement that locks its attempt.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.models import QuestionType
from app.core.driver import Driver, DriverSQL, DriverValues
from app.core.errors import ConflictError
from app.core.sqlite_writer import fetchrow
from app.papers.models import Paper

JUDGE_OPTIONS = (("T", "正确"), ("F", "错误"))
CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class ServedQuestion:
    no: int
    type: str
    points: float
    stem: str
    options: tuple[tuple[str, str], ...]
    # Derived once (every start and save of every examinee reads them).
    option_keys: tuple[str, ...] = field(init=False)
    _texts: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "option_keys", tuple(key for key, _ in self.options))
        object.__setattr__(self, "_texts", dict(self.options))

    def text_of(self, key: str) -> str:
        return self._texts.get(key, "")


@dataclass(frozen=True, slots=True)
class ServedPaper:
    id: int
    stamp: datetime
    questions: dict[int, ServedQuestion]

    @property
    def total_points(self) -> float:
        return sum(q.points for q in self.questions.values())


def parse_served_paper(paper_id: int, stamp: datetime, content: list[Any]) -> ServedPaper:
    questions: dict[int, ServedQuestion] = {}
    for item in content:
        options = tuple((str(o["key"]), str(o["text"])) for o in item.get("options") or [])
        if item["type"] == QuestionType.judge and not options:
            options = JUDGE_OPTIONS
        no = int(item["no"])
        questions[no] = ServedQuestion(
            no=no, type=str(item["type"]), points=float(item["points"]), stem=str(item["stem"]), options=options
        )
    return ServedPaper(id=paper_id, stamp=stamp, questions=questions)


class ServedPaperCache:
    """A small LRU of parsed papers, keyed by id and creation stamp (shared by the event loop and the
    SQLite writer thread, hence the lock)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._papers: OrderedDict[tuple[int, datetime], ServedPaper] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, paper_id: int, stamp: datetime) -> ServedPaper | None:
        with self._lock:
            paper = self._papers.get((paper_id, stamp))
            if paper is not None:
                self._papers.move_to_end((paper_id, stamp))
            return paper

    def put(self, paper: ServedPaper) -> ServedPaper:
        with self._lock:
            self._papers[(paper.id, paper.stamp)] = paper
            while len(self._papers) > self._size:
                self._papers.popitem(last=False)
            return paper

    def clear(self) -> None:
        with self._lock:
            self._papers.clear()


served_papers = ServedPaperCache()


async def served_paper(session: AsyncSession, paper_id: int, stamp: datetime | None = None) -> ServedPaper:
    """The parsed paper: from the cache when its stamp (given, or read: one small column) is current."""
    if stamp is None:
        stamp = await session.scalar(select(Paper.created_at).where(Paper.id == paper_id))
        if stamp is None:
            raise ConflictError(f"paper {paper_id} is gone")
    cached = served_papers.get(paper_id, stamp)
    if cached is not None:
        return cached
    row = (await session.execute(select(Paper.created_at, Paper.content).where(Paper.id == paper_id))).one_or_none()
    if row is None:
        raise ConflictError(f"paper {paper_id} is gone")
    return served_papers.get(paper_id, row.created_at) or served_papers.put(
        parse_served_paper(paper_id, row.created_at, row.content)
    )


_PAPER_CONTENT = DriverSQL.of("SELECT created_at, content FROM papers WHERE id = :paper_id")


async def served_paper_via(driver: Driver, paper_id: int, stamp: datetime | None) -> ServedPaper:
    """``served_paper`` for the hot paths, which talk to the driver directly."""
    cached = served_papers.get(paper_id, stamp) if stamp is not None else None
    if cached is not None:
        return cached
    row = await driver.fetchrow(_PAPER_CONTENT, {"paper_id": paper_id})
    if row is None:
        raise ConflictError(f"paper {paper_id} is gone")
    created_at = driver.values.read_time(row["created_at"])
    assert created_at is not None
    return served_papers.get(paper_id, created_at) or served_papers.put(
        parse_served_paper(paper_id, created_at, driver.values.read_json(row["content"]))
    )


def served_paper_sync(connection: Any, paper_id: int, stamp: datetime | None) -> ServedPaper:
    """``served_paper`` for a SQLite writer job (a DB-API connection)."""
    cached = served_papers.get(paper_id, stamp) if stamp is not None else None
    if cached is not None:
        return cached
    row = fetchrow(connection, _PAPER_CONTENT.sqlite, {"paper_id": paper_id})
    if row is None:
        raise ConflictError(f"paper {paper_id} is gone")
    values = DriverValues("sqlite")
    created_at = values.read_time(row["created_at"])
    assert created_at is not None
    return served_papers.get(paper_id, created_at) or served_papers.put(
        parse_served_paper(paper_id, created_at, values.read_json(row["content"]))
    )
