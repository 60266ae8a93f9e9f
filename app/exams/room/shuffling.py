"""Each examinee's own order of questions and options: pure, seeded, stored on the attempt.

The paper keeps its own numbering (``no``) and option keys; an examinee sees question ``1..n`` in his
order and option letters ``A..`` in his order. Answers are stored in the paper's keys, so grading never
needs the examinee's order; only the API maps between the two.
"""

from __future__ import annotations

import hashlib
import itertools
import json
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
    option_orders_json: str | None = None  # ``option_orders`` as JSON, when the plan made it already


def make_presentation(
    questions: Sequence[QuestionShape], *, seed: int, shuffle_questions: bool, shuffle_options: bool
) -> Presentation:
    """Question order (paper numbers) and per question the paper's option keys in the order shown.

    Questions are shuffled within their type, so the sections (single, multiple, judge) stay in the
    paper's order; judge options (T/F) are never shuffled. Every arrangement of a question's options is
    equally likely.
    """
    plan = _plan_of(tuple(questions))
    return plan.draw(seed, shuffle_questions=shuffle_questions, shuffle_options=shuffle_options)


@lru_cache(maxsize=64)
def _plan_of(questions: tuple[QuestionShape, ...]) -> PresentationPlan:
    return PresentationPlan.of(questions)


class PresentationPlan:
    """``make_presentation`` for one paper, with everything that is the same for every examinee worked
    out once: every examinee of a province starts in the same minute, so a paper's plan draws thousands
    of presentations a second.

    The options of all questions are arranged with a single draw: one number, uniform over every
    combination of the questions' arrangements, read digit by digit in mixed radix — so each question's
    arrangement is uniform and independent of the others'. (Options of more than
    ``LISTED_ARRANGEMENTS_UP_TO`` keys are shuffled instead.) The stored form of the option orders, JSON,
    is put together from pieces made once per arrangement.
    """

    __slots__ = ("_combinations", "_numbers", "_options", "_sections")

    def __init__(self, sections: list[tuple[int, ...]], options: list[_OptionsPlan]) -> None:
        self._sections = sections
        self._options = options
        self._numbers = [no for section in sections for no in section]
        self._combinations = 1
        for plan in options:
            if plan.arrangements:
                self._combinations *= len(plan.arrangements)

    @classmethod
    def of(cls, questions: Sequence[QuestionShape]) -> PresentationPlan:
        sections: dict[str, list[int]] = {}
        options: list[_OptionsPlan] = []
        for question in questions:
            sections.setdefault(question.type, []).append(question.no)
            options.append(_OptionsPlan.of(question))
        return cls([tuple(numbers) for numbers in sections.values()], options)

    def draw(self, seed: int, *, shuffle_questions: bool, shuffle_options: bool) -> Presentation:
        rng = random.Random(seed)
        if shuffle_questions:
            order: list[int] = []
            for section in self._sections:
                numbers = list(section)
                rng.shuffle(numbers)
                order += numbers
        else:
            order = list(self._numbers)
        option_orders: dict[str, list[str]] = {}
        pieces: list[str] = []
        combination = rng.randrange(self._combinations) if shuffle_options else 0
        for plan in self._options:
            if not shuffle_options or plan.moves is False:
                keys, piece = list(plan.keys), plan.pieces[0]
            elif plan.arrangements:
                combination, pick = divmod(combination, len(plan.arrangements))
                keys, piece = list(plan.arrangements[pick]), plan.pieces[pick]
            else:
                keys = list(plan.keys)
                rng.shuffle(keys)
                piece = f"{plan.no_json}:{json.dumps(keys, separators=(',', ':'))}"
            option_orders[plan.no] = keys
            pieces.append(piece)
        return Presentation(order, option_orders, "{" + ",".join(pieces) + "}")


@dataclass(frozen=True, slots=True)
class _OptionsPlan:
    """How one question's options are arranged: never (``moves`` False), by drawing one of its listed
    ``arrangements``, or (many options) by a shuffle; ``pieces`` holds each listed arrangement's part of
    the option orders' JSON (for one that never moves, the paper's order)."""

    no: str
    no_json: str
    keys: tuple[str, ...]
    moves: bool
    arrangements: tuple[tuple[str, ...], ...]
    pieces: tuple[str, ...]

    @classmethod
    def of(cls, question: QuestionShape) -> _OptionsPlan:
        keys = tuple(question.option_keys)
        moves = question.type != QuestionType.judge and len(keys) > 1
        arrangements = _arrangements(keys) if moves and len(keys) <= LISTED_ARRANGEMENTS_UP_TO else ()
        no, no_json = str(question.no), json.dumps(str(question.no))
        pieces = tuple(f"{no_json}:{json.dumps(list(a), separators=(',', ':'))}" for a in (arrangements or [keys]))
        return cls(no, no_json, keys, moves, arrangements, pieces)


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
    result: list[str] = []
    if question_type == QuestionType.judge:  # shown as they are (T/F)
        for key in chosen:
            if key not in shown_order:
                return None
            result.append(key)
        return result
    for key in chosen:
        index = _LETTER_INDEX.get(key)
        if index is None or index >= len(shown_order):
            return None
        result.append(shown_order[index])
    return result


_LETTER_INDEX = {letter: index for index, letter in enumerate(DISPLAY_LETTERS)}


def to_displayed_keys(question_type: str, shown_order: Sequence[str], stored: str) -> list[str]:
    """The displayed keys for a stored answer (paper keys), in display order."""
    shown = displayed_keys(question_type, shown_order)
    return [shown[i] for i, key in enumerate(shown_order) if key in stored]


def displayed_numbers(question_order: Sequence[int]) -> Mapping[int, int]:
    """Paper number → the number the examinee sees."""
    return {paper_no: index for index, paper_no in enumerate(question_order, start=1)}
