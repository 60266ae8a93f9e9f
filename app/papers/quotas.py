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
# For the rounding note a person reads in the preview.
TYPE_NAMES = {"single": "单选题", "multiple": "多选题", "judge": "判断题"}
CATEGORY_NAMES = {"theory": "基本理论", "law": "基础法律", "policy": "部门政策业务"}
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
        problems.append((("time_limit_seconds",), "考试时长必须大于 0 秒"))
    elif time_limit_seconds > MAX_TIME_LIMIT_SECONDS:
        problems.append((("time_limit_seconds",), "考试时长不能超过 24 小时"))
    if not sections:
        problems.append((("sections",), "组卷规则至少需要一种题型"))
    seen_types: dict[str, int] = {}
    for index, section in enumerate(sections):
        type_ = str(section.get("type"))
        if type_ not in TYPE_ORDER:
            problems.append((("sections", index, "type"), f"未知题型 {type_!r}"))
        elif type_ in seen_types:
            problems.append(
                (
                    ("sections", index, "type"),
                    f"题型 {type_!r} 已在第 {seen_types[type_] + 1} 项中设置；每种题型只设一项",
                )
            )
        else:
            seen_types[type_] = index
        count = section.get("count")
        if not isinstance(count, int) or count <= 0:
            problems.append((("sections", index, "count"), "每种题型至少 1 题"))
        elif count > MAX_SECTION_COUNT:
            problems.append((("sections", index, "count"), f"每种题型最多 {MAX_SECTION_COUNT} 题"))
        points = section.get("points")
        if not isinstance(points, int | float) or points <= 0:
            problems.append((("sections", index, "points"), "每题分值必须大于 0"))
    unknown = sorted(set(category_split) - set(CATEGORY_ORDER))
    for name in unknown:
        problems.append(
            (
                ("category_split", name),
                f"未知知识类别 {name!r}；可选 theory（基本理论）、law（基础法律）、policy（部门政策业务）",
            )
        )
    total = Fraction(0)
    for name in CATEGORY_ORDER:
        value = category_split.get(name, 0)
        if not isinstance(value, int | float):
            problems.append((("category_split", name), "占比必须是百分数"))
            continue
        if value < 0:
            problems.append((("category_split", name), "占比不能为负数"))
        total += _fraction(value)
    if not unknown and total != 100:
        problems.append(
            (
                ("category_split",),
                f"各类别占比合计 {float(total):g}%，必须为 100%",
            )
        )
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
                f"{TYPE_NAMES.get(section.type, section.type)} {section.count} 题 × "
                f"{'/'.join(f'{float(w):g}' for w in weights)}% = {shares} → {'/'.join(str(c) for c in counts)}"
            )
        for category, count in zip(CATEGORY_ORDER, counts, strict=True):
            quotas.append(Quota(type=section.type, category=category, count=count, points=section.points))
            by_category[category] += count
    note = None
    if notes:
        note = (
            "按比例分配不能整除，题数已按最大余数法取整（余数相同时依次优先基本理论、基础法律、部门政策业务）："
            + "；".join(notes)
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
