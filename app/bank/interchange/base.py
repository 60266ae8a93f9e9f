"""The shape every interchange reader returns and every writer takes.

Readers turn a foreign file into plain item dicts shaped like the body of
``POST /api/questions`` (``type``, ``stem``, ``options``, ``answer`` and, when
the format carries them, ``explanation``, ``tags``, ``knowledge_point``).
They never touch the database: the bank's import service validates and stores
the items, so a reader only reports what the *format* gets wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

QuestionDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParsedItem:
    """One question read from the file; ``row`` is its 1-based item number in the file."""

    row: int
    data: QuestionDict


@dataclass(frozen=True, slots=True)
class SkippedItem:
    """An item of a type exambank does not have (essay, matching, cloze …)."""

    row: int
    reason: str


@dataclass(frozen=True, slots=True)
class ItemError:
    """An item the format itself gets wrong (no right answer, malformed markup …)."""

    row: int
    field: str
    message: str


@dataclass(slots=True)
class InterchangeResult:
    items: list[ParsedItem] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExportedFile:
    content: bytes
    media_type: str
    filename: str
    skipped: list[SkippedItem] = field(default_factory=list)
