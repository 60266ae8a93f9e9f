"""Each examinee's order of questions and options, and the paper as he is shown it (pure, no database)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.exams.room.attempts import shown_questions
from app.exams.room.served_paper import parse_served_paper
from app.exams.room.shuffling import QuestionShape, make_presentation

STAMP = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _paper_content() -> list[dict[str, Any]]:
    """Single, multiple (five and seven options) and judge questions, with texts JSON must escape."""
    content: list[dict[str, Any]] = []
    shapes = [("single", "ABCD")] * 4 + [("multiple", "ABCDE")] * 3 + [("multiple", "ABCDEFG")] + [("judge", "")] * 3
    for no, (qtype, keys) in enumerate(shapes, start=1):
        options = [{"key": k, "text": f'选项{k} "引号" \\ 换行\n{no}'} for k in keys]
        points = 2.5 if qtype == "multiple" else 2
        content.append({"no": no, "type": qtype, "points": points, "stem": f"题{no}：\t“依据”", "options": options})
    return content


PAPER = parse_served_paper(7, STAMP, _paper_content())


def _presentation(seed: int, *, questions: bool = True, options: bool = True) -> Any:
    shown = PAPER.presentation_plan.draw(seed, shuffle_questions=questions, shuffle_options=options)
    assert shown == make_presentation(PAPER.shapes, seed=seed, shuffle_questions=questions, shuffle_options=options)
    return shown


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(min_value=0, max_value=(1 << 63) - 1))
def test_a_presentation_is_a_reproducible_rearrangement_within_each_type(seed: int) -> None:
    shown = _presentation(seed)

    assert shown == _presentation(seed)
    assert json.loads(shown.option_orders_json) == shown.option_orders  # the form stored on the attempt
    assert sorted(shown.question_order) == list(range(1, 12))
    assert [PAPER.questions[no].type for no in shown.question_order] == [q.type for q in PAPER.shapes]
    for shape in PAPER.shapes:
        order = shown.option_orders[str(shape.no)]
        assert sorted(order) == sorted(shape.option_keys)
        if shape.type == "judge":
            assert order == ["T", "F"]


def test_without_shuffling_everything_is_in_the_papers_order() -> None:
    shown = _presentation(42, questions=False, options=False)

    assert shown.question_order == list(range(1, 12))
    assert shown.option_orders == {str(s.no): list(s.option_keys) for s in PAPER.shapes}
    assert json.loads(shown.option_orders_json) == shown.option_orders


def test_every_arrangement_of_the_options_is_about_equally_likely() -> None:
    shape = [QuestionShape(1, "single", ("A", "B", "C", "D"))]
    seen = Counter(
        tuple(make_presentation(shape, seed=seed, shuffle_questions=True, shuffle_options=True).option_orders["1"])
        for seed in range(24_000)
    )

    assert len(seen) == 24
    assert 800 < min(seen.values()) <= max(seen.values()) < 1200  # 1,000 each expected


def test_the_questions_arrangements_are_drawn_independently() -> None:
    """One draw arranges every question: the pairs of two questions' arrangements all occur."""
    pairs = Counter(
        (tuple(shown.option_orders["1"]), tuple(shown.option_orders["2"]))
        for shown in (_presentation(seed, questions=False) for seed in range(12_000))
    )

    assert len(pairs) == 24 * 24
    assert max(pairs.values()) < 60  # about 21 each expected


def test_many_options_are_shuffled_too() -> None:
    orders = {tuple(_presentation(seed).option_orders["8"]) for seed in range(50)}

    assert len(orders) > 40
    assert all(sorted(order) == list("ABCDEFG") for order in orders)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(min_value=0, max_value=(1 << 63) - 1))
def test_the_first_starts_paper_json_is_the_shown_questions(seed: int) -> None:
    shown = _presentation(seed)

    served = PAPER.shown_questions_json(shown.question_order, shown.option_orders)

    assert json.loads(served) == shown_questions(PAPER, shown.question_order, shown.option_orders)


def test_the_paper_json_copes_with_orders_the_paper_does_not_know() -> None:
    # A question without a stored order is shown as drawn; a key the paper lacks is shown with no text.
    order = list(range(1, 12))
    option_orders = {"1": ["D", "C", "B", "Z"], "9": ["F", "T"]}

    served = json.loads(PAPER.shown_questions_json(order, option_orders))

    assert served == shown_questions(PAPER, order, option_orders)
    assert served[0]["options"][3] == {"key": "D", "text": ""}
    assert [o["key"] for o in served[8]["options"]] == ["F", "T"]
    assert [o["key"] for o in served[1]["options"]] == ["A", "B", "C", "D"]
