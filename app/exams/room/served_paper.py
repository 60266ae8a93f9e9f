"""A paper as served to examinees, parsed once per process.

A paper's ``content`` never changes once drawn (a redraw replaces it and stamps a new ``created_at``;
regrade changes only the key), so the parsed form is cached by (paper id, created_at). Keys are never
cached: every save reads the current key in the same statement that locks its attempt.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.models import QuestionType
from app.core.driver import Driver, DriverSQL, DriverValues
from app.core.errors import ConflictError
from app.core.sqlite_writer import fetchrow
from app.exams.room.shuffling import DISPLAY_LETTERS, PresentationPlan, QuestionShape, displayed_keys
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


_JSON = TypeAdapter(dict[str, Any])


@dataclass(frozen=True, slots=True)
class ServedPaper:
    id: int
    stamp: datetime
    questions: dict[int, ServedQuestion]
    # Derived once: what every examinee's shuffle starts from, and the JSON pieces of each question as
    # shown (see ``shown_questions_json``).
    shapes: tuple[QuestionShape, ...] = field(init=False)
    presentation_plan: PresentationPlan = field(init=False, repr=False, compare=False)
    _json_pieces: dict[int, _ShownPieces] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shapes = tuple(QuestionShape(q.no, q.type, q.option_keys) for q in self.questions.values())
        object.__setattr__(self, "shapes", shapes)
        object.__setattr__(self, "presentation_plan", PresentationPlan.of(shapes))
        object.__setattr__(self, "_json_pieces", {no: _ShownPieces.of(q) for no, q in self.questions.items()})

    @property
    def total_points(self) -> float:
        return sum(q.points for q in self.questions.values())

    def shown_question(self, shown_no: int, paper_no: int, order: Sequence[str]) -> dict[str, Any]:
        """Question ``paper_no`` as an examinee sees it (``QuestionShown``): numbered ``shown_no``, its
        options in ``order`` (paper keys) lettered A.. (judge: T/F)."""
        question = self.questions[paper_no]
        letters = displayed_keys(question.type, order)
        return {
            "no": shown_no,
            "type": question.type,
            "points": question.points,
            "stem": question.stem,
            "options": [
                {"key": letter, "text": question.text_of(key)} for letter, key in zip(letters, order, strict=True)
            ],
        }

    def shown_questions_json(self, question_order: Sequence[int], option_orders: Mapping[str, Sequence[str]]) -> bytes:
        """The JSON array of ``shown_question`` for an examinee's whole order, put together from pieces
        serialised once per paper (a first start sends the paper, and thousands start at once)."""
        parts: list[bytes] = []
        for shown_no, paper_no in enumerate(question_order, start=1):
            pieces = self._json_pieces[paper_no]
            order = option_orders.get(str(paper_no), pieces.keys)
            if pieces.lettered:
                options = [letter + pieces.text(key) for letter, key in zip(_LETTERS, order, strict=False)]
            else:  # judge questions show their own keys, T and F
                options = [pieces.key(key) + pieces.text(key) for key in order]
            parts.append(b'{"no":%d,%s%s]}' % (shown_no, pieces.head, b",".join(options)))
        return b"[" + b",".join(parts) + b"]"


_LETTERS = tuple(b'{"key":"%s",' % letter.encode() for letter in DISPLAY_LETTERS)


@dataclass(frozen=True, slots=True)
class _ShownPieces:
    """A shown question's JSON in pieces: ``"type":…,"stem":…,"options":[``, and per option key its
    ``{"key":…,`` (for questions showing their own keys) and ``"text":…}``."""

    keys: tuple[str, ...]
    lettered: bool
    head: bytes
    keys_json: dict[str, bytes]
    texts_json: dict[str, bytes]

    @classmethod
    def of(cls, question: ServedQuestion) -> _ShownPieces:
        head = _JSON.dump_json({"type": question.type, "points": question.points, "stem": question.stem})
        return cls(
            keys=question.option_keys,
            lettered=question.type != QuestionType.judge,
            head=head[1:-1] + b',"options":[',
            keys_json={key: _key_json(key) for key in question.option_keys},
            texts_json={key: _JSON.dump_json({"text": text})[1:] for key, text in question.options},
        )

    def key(self, key: str) -> bytes:
        return self.keys_json.get(key) or _key_json(key)

    def text(self, key: str) -> bytes:
        return self.texts_json.get(key, b'"text":""}')


def _key_json(key: str) -> bytes:
    return b"{" + _JSON.dump_json({"key": key})[1:-1] + b","


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
            raise ConflictError(f"试卷 {paper_id} 已不存在")
    cached = served_papers.get(paper_id, stamp)
    if cached is not None:
        return cached
    row = (await session.execute(select(Paper.created_at, Paper.content).where(Paper.id == paper_id))).one_or_none()
    if row is None:
        raise ConflictError(f"试卷 {paper_id} 已不存在")
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
        raise ConflictError(f"试卷 {paper_id} 已不存在")
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
        raise ConflictError(f"试卷 {paper_id} 已不存在")
    values = DriverValues("sqlite")
    created_at = values.read_time(row["created_at"])
    assert created_at is not None
    return served_papers.get(paper_id, created_at) or served_papers.put(
        parse_served_paper(paper_id, created_at, values.read_json(row["content"]))
    )
