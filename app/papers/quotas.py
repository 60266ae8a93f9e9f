"""Blueprint arithmetic: checking a blueprint and splitting each section's count over the categories.

Pure functions: no session, no clock. The split uses largest-remainder rounding within each type, with
ties broken in the fixed category order theory, law, policy, so the same blueprint always gives the
same quota table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

CATEGORY_ORDER: tuple[str, ...] = ("theory", "law", "policy")
TYPE_ORDER: tuple[str, ...] = ("single", "multiple", "judge")
MAX_SECTION_COUNT = 500
MAX_TIME_LIMIT_SECONDS = 24 * 3600

Problem = tuple[tuple[str | int, ...], str]


@dataclass(frozen=True, slots=True)
class Section:
    type: str
    count: int
    points: float


@dataclass(frozen=True, slots=True)
class Quota:
    type: str
    category: str
    count: int
    points: float


@dataclass(frozen=True, slots=True)
class QuotaTable:
    quotas: tuple[Quota, ...]
    total_questions: int
    total_points: float
    rounded: bool
    rounding_note: str | None
    by_category: dict[str, int] = field(default_factory=dict)

    def count(self, type_: str, category: str) -> int:
        return next((q.count for q in self.quotas if q.type == type_ and q.category == category), 0)


def _fraction(value: float | int) -> Fraction:
    # Through str so 33.3 means 33.3, not the binary float nearest to it.
    return Fraction(str(value))


def largest_remainder(total: int, weights: Sequence[Fraction]) -> list[int]:
    """Split ``total`` in proportion to ``weights``; leftover units go to the largest remainders, earlier first."""
    weight_sum = sum(weights, Fraction(0))
    if total == 0 or weight_sum == 0:
        return [0] * len(weights)
    exact = [total * w / weight_sum for w in weights]
    counts = [int(e) for e in exact]  # floor: every share is non-negative
    leftover = total - sum(counts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for index in by_remainder[:leftover]:
        counts[index] += 1
    return counts


def check_blueprint(
    *, time_limit_seconds: int, sections: Sequence[Mapping[str, Any]], category_split: Mapping[str, Any]
) -> list[Problem]:
    """Every reason the blueprint cannot be used, each with the field it is about (empty when fine)."""
    problems: list[Problem] = []
    if time_limit_seconds <= 0:
        problems.append((("time_limit_seconds",), "the time limit must be a positive number of seconds"))
    elif time_limit_seconds > MAX_TIME_LIMIT_SECONDS:
        problems.append((("time_limit_seconds",), "the time limit cannot exceed 24 hours"))
    if not sections:
        problems.append((("sections",), "a blueprint needs at least one section"))
    seen_types: dict[str, int] = {}
    for index, section in enumerate(sections):
        type_ = str(section.get("type"))
        if type_ not in TYPE_ORDER:
            problems.append((("sections", index, "type"), f"unknown question type {type_!r}"))
        elif type_ in seen_types:
            problems.append((
                ("sections", index, "type"),
                f"type {type_!r} already has a section (section {seen_types[type_]}); give each type one section",
            ))
        else:
            seen_types[type_] = index
        count = section.get("count")
        if not isinstance(count, int) or count <= 0:
            problems.append((("sections", index, "count"), "a section needs at least 1 question"))
        elif count > MAX_SECTION_COUNT:
            problems.append((("sections", index, "count"), f"a section holds at most {MAX_SECTION_COUNT} questions"))
        points = section.get("points")
        if not isinstance(points, int | float) or points <= 0:
            problems.append((("sections", index, "points"), "points per question must be greater than 0"))
    unknown = sorted(set(category_split) - set(CATEGORY_ORDER))
    for name in unknown:
        problems.append((("category_split", name), f"unknown category {name!r}; use theory, law, policy"))
    total = Fraction(0)
    for name in CATEGORY_ORDER:
        value = category_split.get(name, 0)
        if not isinstance(value, int | float):
            problems.append((("category_split", name), "the share must be a number of percent"))
            continue
        if value < 0:
            problems.append((("category_split", name), "a category's share cannot be negative"))
        total += _fraction(value)
    if not unknown and total != 100:
        problems.append((
            ("category_split",),
            f"the category shares add up to {float(total):g}%, they must add up to 100%",
        ))
    return problems


def compute_quotas(sections: Sequence[Section], category_split: Mapping[str, float | int]) -> QuotaTable:
    """The quota table (type × category → count) of a checked blueprint."""
    weights = [_fraction(category_split.get(c, 0)) for c in CATEGORY_ORDER]
    quotas: list[Quota] = []
    notes: list[str] = []
    by_category = dict.fromkeys(CATEGORY_ORDER, 0)
    for section in sections:
        counts = largest_remainder(section.count, weights)
        exact = [section.count * w / 100 for w in weights]
        if any(e.denominator != 1 for e in exact):
            shares = "/".join(f"{float(e):g}" for e in exact)
            notes.append(
                f"{section.type}: {section.count} × {'/'.join(f'{float(w):g}' for w in weights)}% = {shares}"
                f" → {'/'.join(str(c) for c in counts)}"
            )
        for category, count in zip(CATEGORY_ORDER, counts, strict=True):
            quotas.append(Quota(type=section.type, category=category, count=count, points=section.points))
            by_category[category] += count
    note = None
    if notes:
        note = (
            "the split does not divide evenly, so counts were rounded by largest remainder "
            "(ties go to theory, then law, then policy): " + "; ".join(notes)
        )
    return QuotaTable(
        quotas=tuple(quotas),
        total_questions=sum(s.count for s in sections),
        total_points=float(sum(_fraction(s.points) * s.count for s in sections)),
        rounded=bool(notes),
        rounding_note=note,
        by_category=by_category,
    )


def quota_rows(table: QuotaTable) -> list[dict[str, Any]]:
    """The quota table as stored with a blueprint."""
    return [{"type": q.type, "category": q.category, "count": q.count, "points": q.points} for q in table.quotas]


def sections_from(rows: Sequence[Mapping[str, Any]]) -> list[Section]:
    return [Section(type=str(r["type"]), count=int(r["count"]), points=float(r["points"])) for r in rows]


PRESET_JIBEN_LILUN_PLUS: dict[str, Any] = {
    "key": "jiben_lilun_plus",
    "name": "基本理论+",
    "time_limit_seconds": 1800,
    "sections": [
        {"type": "single", "count": 20, "points": 2},
        {"type": "multiple", "count": 10, "points": 3},
        {"type": "judge", "count": 15, "points": 2},
    ],
    "category_split": {"theory": 40, "law": 20, "policy": 40},
    "multiple_scoring": "all_or_nothing",
}

PRESETS: dict[str, dict[str, Any]] = {PRESET_JIBEN_LILUN_PLUS["key"]: PRESET_JIBEN_LILUN_PLUS}
