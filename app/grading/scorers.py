"""Pure scorers, one per question type: no session, no clock; an answer is a string of option keys.

Answers and keys are stored as the sorted concatenation of the paper's own option keys (``"AC"``, ``"T"``;
``""`` when unanswered), so a scorer compares strings and sets of letters, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from app.bank.models import QuestionType

SINGLE_KEYS = frozenset("ABCDEFGH")
JUDGE_KEYS = frozenset("TF")
ALL_OR_NOTHING = "all_or_nothing"
PARTIAL = "partial"


class Scored(NamedTuple):
    points: float
    is_correct: bool


# The types as plain strings: a save scores every answer, and comparing with the enum members costs more.
_MULTIPLE, _JUDGE = QuestionType.multiple.value, QuestionType.judge.value


def encode_keys(keys: Iterable[str]) -> str:
    """The stored form of a set of option keys: sorted, without duplicates."""
    if isinstance(keys, list | tuple) and len(keys) == 1:
        return str(keys[0])
    return "".join(sorted(set(keys)))


def score_single(given: str, key: str, points: float) -> float:
    """Full points for exactly the right option, else zero."""
    return points if given != "" and given == key else 0.0


def score_judge(given: str, key: str, points: float) -> float:
    """Full points for the right T/F, else zero."""
    return points if given != "" and given == key else 0.0


def score_multiple(given: str, key: str, points: float, scoring: str = ALL_OR_NOTHING) -> float:
    """Full points for exactly the right set; under ``partial`` a strict subset with no wrong key earns half."""
    if given == "" or key == "":
        return 0.0
    if given == key:
        return points
    if scoring == PARTIAL and set(given) < set(key):
        return points / 2
    return 0.0


def score_answer(question_type: str, given: str, key: str, points: float, multiple_scoring: str) -> Scored:
    """Points and correctness of one stored answer; ``is_correct`` means exactly right (not partial)."""
    if question_type == _MULTIPLE:
        earned = score_multiple(given, key, points, multiple_scoring)
    elif question_type == _JUDGE:
        earned = score_judge(given, key, points)
    else:
        earned = score_single(given, key, points)
    return Scored(points=earned, is_correct=given != "" and given == key)
