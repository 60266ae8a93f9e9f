"""Blueprint arithmetic: the preset's quota table, largest-remainder rounding and refusals (pure)."""

from fractions import Fraction

import pytest

from app.papers.quotas import (
    PRESET_JIBEN_LILUN_PLUS,
    Section,
    check_blueprint,
    compute_quotas,
    largest_remainder,
    sections_from,
)


def test_preset_quota_table() -> None:
    preset = PRESET_JIBEN_LILUN_PLUS
    table = compute_quotas(sections_from(preset["sections"]), preset["category_split"])
    counts = {(q.type, q.category): q.count for q in table.quotas}
    assert counts == {
        ("single", "theory"): 8,
        ("single", "law"): 4,
        ("single", "policy"): 8,
        ("multiple", "theory"): 4,
        ("multiple", "law"): 2,
        ("multiple", "policy"): 4,
        ("judge", "theory"): 6,
        ("judge", "law"): 3,
        ("judge", "policy"): 6,
    }
    assert table.total_questions == 45
    assert table.total_points == 100
    assert table.by_category == {"theory": 18, "law": 9, "policy": 18}
    assert not table.rounded
    assert table.rounding_note is None


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (10, [40, 20, 40], [4, 2, 4]),
        (7, [40, 20, 40], [3, 1, 3]),  # 2.8/1.4/2.8: the two .8 remainders win
        (1, [40, 20, 40], [1, 0, 0]),  # tie between theory and policy: theory first
        (2, [40, 20, 40], [1, 0, 1]),  # 0.8/0.4/0.8
        (3, [1, 1, 1], [1, 1, 1]),
        (4, [1, 1, 1], [2, 1, 1]),  # equal remainders: theory, then law, then policy
        (5, [1, 1, 1], [2, 2, 1]),
        (3, [0, 50, 50], [0, 2, 1]),
        (11, [33.3, 33.3, 33.4], [4, 3, 4]),  # 3.663/3.663/3.674: policy, then theory (tie with law)
        (0, [40, 20, 40], [0, 0, 0]),
    ],
)
def test_largest_remainder(total: int, weights: list[float], expected: list[int]) -> None:
    result = largest_remainder(total, [Fraction(str(w)) for w in weights])
    assert result == expected
    assert sum(result) == total


def test_rounding_is_reported() -> None:
    table = compute_quotas([Section("single", 7, 2), Section("judge", 10, 2)], {"theory": 40, "law": 20, "policy": 40})
    assert table.rounded
    assert table.count("single", "theory") == 3 and table.count("single", "law") == 1
    assert table.count("judge", "law") == 2
    assert table.rounding_note is not None and "单选题 7 题" in table.rounding_note
    assert "judge" not in table.rounding_note  # 10 divides evenly


def _fields(problems: list[tuple[tuple[str | int, ...], str]]) -> list[tuple[str | int, ...]]:
    return [loc for loc, _ in problems]


def test_check_blueprint_names_each_field() -> None:
    problems = check_blueprint(
        time_limit_seconds=0,
        sections=[
            {"type": "single", "count": 0, "points": 2},
            {"type": "single", "count": 5, "points": 0},
            {"type": "judge", "count": -1, "points": -2},
        ],
        category_split={"theory": 50, "law": -10, "policy": 40},
    )
    fields = _fields(problems)
    assert ("time_limit_seconds",) in fields
    assert ("sections", 0, "count") in fields
    assert ("sections", 1, "type") in fields  # duplicate type
    assert ("sections", 1, "points") in fields
    assert ("sections", 2, "count") in fields
    assert ("sections", 2, "points") in fields
    assert ("category_split", "law") in fields  # negative
    assert ("category_split",) in fields  # sums to 80


def test_check_blueprint_refuses_no_sections_and_bad_sum() -> None:
    problems = check_blueprint(time_limit_seconds=600, sections=[], category_split={"theory": 40, "law": 20})
    assert _fields(problems) == [("sections",), ("category_split",)]
    assert "60%" in problems[1][1]


def test_check_blueprint_accepts_the_preset() -> None:
    assert (
        check_blueprint(
            time_limit_seconds=1800,
            sections=PRESET_JIBEN_LILUN_PLUS["sections"],
            category_split=PRESET_JIBEN_LILUN_PLUS["category_split"],
        )
        == []
    )
