"""The pure scorers: single and judge all or nothing; multiple all or nothing, or half for a clean subset."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.grading.scorers import (
    Scored,
    encode_keys,
    score_answer,
    score_judge,
    score_multiple,
    score_single,
)

KEYS = st.sets(st.sampled_from("ABCDEFGH"), min_size=0, max_size=8).map(encode_keys)


def test_encode_keys_sorts_and_removes_duplicates() -> None:
    assert encode_keys(["C", "A", "C"]) == "AC"
    assert encode_keys([]) == ""


@pytest.mark.parametrize(("given_keys", "expected"), [("B", 2.0), ("A", 0.0), ("", 0.0), ("AB", 0.0)])
def test_single(given_keys: str, expected: float) -> None:
    assert score_single(given_keys, "B", 2.0) == expected


@pytest.mark.parametrize(("given_keys", "expected"), [("T", 2.0), ("F", 0.0), ("", 0.0)])
def test_judge(given_keys: str, expected: float) -> None:
    assert score_judge(given_keys, "T", 2.0) == expected


@pytest.mark.parametrize(
    ("given_keys", "all_or_nothing", "partial"),
    [
        ("ACD", 3.0, 3.0),  # exactly right
        ("AC", 0.0, 1.5),  # 少选: a strict subset, nothing wrong
        ("A", 0.0, 1.5),
        ("ACDE", 0.0, 0.0),  # 多选
        ("AB", 0.0, 0.0),  # 错选
        ("B", 0.0, 0.0),
        ("", 0.0, 0.0),
    ],
)
def test_multiple(given_keys: str, all_or_nothing: float, partial: float) -> None:
    assert score_multiple(given_keys, "ACD", 3.0) == all_or_nothing
    assert score_multiple(given_keys, "ACD", 3.0, "partial") == partial


def test_score_answer_marks_only_exact_answers_correct() -> None:
    assert score_answer("multiple", "AC", "AC", 3.0, "partial") == Scored(3.0, True)
    assert score_answer("multiple", "A", "AC", 3.0, "partial") == Scored(1.5, False)
    assert score_answer("judge", "F", "F", 2.0, "all_or_nothing") == Scored(2.0, True)
    assert score_answer("single", "", "B", 2.0, "all_or_nothing") == Scored(0.0, False)


@given(given_keys=KEYS, key=KEYS.filter(bool))
def test_multiple_never_exceeds_the_points_and_partial_never_scores_a_wrong_key(given_keys: str, key: str) -> None:
    strict = score_multiple(given_keys, key, 3.0)
    lenient = score_multiple(given_keys, key, 3.0, "partial")
    assert strict in (0.0, 3.0) and lenient in (0.0, 1.5, 3.0)
    assert lenient >= strict
    if set(given_keys) - set(key):
        assert lenient == 0.0
    assert (strict == 3.0) == (given_keys == key)
