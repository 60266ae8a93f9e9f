"""Each examinee's own order of questions and options: pure, seeded, stored on the attempt.

The paper keeps its own numbering (``no``) and option keys; an examinee sees question ``1..n`` in his
order and option letters ``A..`` in his order. Answers are stored in the paper's keys, so grading never
needs the examinee's order; only the API maps between the two.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from app.bank.models import QuestionType

DISPLAY_LETTERS = "ABCDEFGH"
SEED_MASK = (1 << 63) - 1
# Options of up to this many keys are arranged by drawing one of their listed arrangements (a single
# draw instead of a shuffle's one per key); more keys than this are shuffled.
LISTED_ARRANGEMENTS_UP_TO = 6


def attempt_seed(exam_seed: int, participant_id: int, attempt_no: int) -> int:
    """A stable per-attempt seed: the same examinee's same attempt always gets the same order."""
    digest = hashlib.blake2b(f"{exam_seed}:{participant_id}:{attempt_no}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & SEED_MASK


@dataclass(frozen=True, slots=True)
class QuestionShape:
    no: int
    type: str
    option_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Presentation:
    question_order: list[int]
    option_orders: dict[str, list[str]]


def make_presentation(
    questions: Sequence[QuestionShape], *, seed: int, shuffle_questions: bool, shuffle_options: bool
) -> Presentation:
    """Question order (paper numbers) and per question the paper's option keys in the order shown.

    Questions are shuffled within their type, so the sections (single, multiple, judge) stay in the
    paper's order; judge options (T/F) are never shuffled. Every arrangement of a question's options is
    equally likely. (Every examinee of a province starts in the same minute: this runs thousands of
    times a second, so it draws one number per question rather than one per option.)
    """
    rng = random.Random(seed)
    sections: dict[str, list[int]] = {}
    for question in questions:
        sections.setdefault(question.type, []).append(question.no)
    order: list[int] = []
    for numbers in sections.values():
        if shuffle_questions:
            rng.shuffle(numbers)
        order.extend(numbers)
    option_orders: dict[str, list[str]] = {}
    for question in questions:
        keys = question.option_keys
        if not shuffle_options or question.type == QuestionType.judge or len(keys) < 2:
            option_orders[str(question.no)] = list(keys)
        elif len(keys) <= LISTED_ARRANGEMENTS_UP_TO:
            arrangements = _arrangements(tuple(keys))
            option_orders[str(question.no)] = list(arrangements[rng.randrange(len(arrangements))])
        else:
            shuffled = list(keys)
            rng.shuffle(shuffled)
            option_orders[str(question.no)] = shuffled
    return Presentation(question_order=order, option_orders=option_orders)


@lru_cache(maxsize=256)
def _arrangements(keys: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(itertools.permutations(keys))


def displayed_keys(question_type: str, paper_keys: Sequence[str]) -> list[str]:
    """The keys an examinee sees for a question: letters A.. in his order, T/F for judge questions."""
    if question_type == QuestionType.judge:
        return list(paper_keys)
    return list(DISPLAY_LETTERS[: len(paper_keys)])


def to_paper_keys(question_type: str, shown_order: Sequence[str], chosen: Sequence[str]) -> list[str] | None:
    """The paper's keys for the displayed keys ``chosen``; None when one of them was not shown."""
    shown = displayed_keys(question_type, shown_order)
    result: list[str] = []
    for key in chosen:
        try:
            result.append(shown_order[shown.index(key)])
        except ValueError:
            return None
    return result


def to_displayed_keys(question_type: str, shown_order: Sequence[str], stored: str) -> list[str]:
    """The displayed keys for a stored answer (paper keys), in display order."""
    shown = displayed_keys(question_type, shown_order)
    return [shown[i] for i, key in enumerate(shown_order) if key in stored]


def displayed_numbers(question_order: Sequence[int]) -> Mapping[int, int]:
    """Paper number → the number the examinee sees."""
    return {paper_no: index for index, paper_no in enumerate(question_order, start=1)}
