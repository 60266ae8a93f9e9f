"""Property tests of the notice: generated rounds (1, 2, 3, 18 and 60 units; ties; nobody failing;
everybody failing; with and without incidents and absences) go through the report's own assembly, and
every sentence of the notice is checked against the report it came from — recomputed here independently.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.reports import repository
from app.reports.notice import build_notice
from app.reports.numbers import format_number, format_percent, to_decimal
from app.reports.schemas import ExamReport, RankRow, UnitRow
from app.reports.service import assemble_report

RANKS = ("ting", "chu", "ke")
RANK_NAMES = {"ting": "厅级", "chu": "处级", "ke": "科级"}
KINDS = ("whispering", "peeking", "copying", "other")
UNIT_COUNTS = (1, 2, 3, 18, 60)
SHAPES = ("mixed", "ties", "nobody_failing", "everybody_failing", "all_full")


@dataclass
class Round:
    name: str
    scores: list[list[tuple[str, int]]]  # per unit: (rank, score)
    incidents: list[tuple[int, str]]
    absences: list[tuple[int, str]]


def _score(shape: str) -> st.SearchStrategy[int]:
    return {
        "nobody_failing": st.integers(60, 100),
        "everybody_failing": st.integers(0, 59),
        "all_full": st.just(100),
    }.get(shape, st.integers(0, 100))


@st.composite
def rounds(draw: st.DrawFn) -> Round:
    count = draw(st.sampled_from(UNIT_COUNTS))
    shape = draw(st.sampled_from(SHAPES))
    rank = st.sampled_from(RANKS)
    sitting = st.lists(st.tuples(rank, _score(shape)), min_size=1, max_size=6 if count > 18 else 14)
    if shape == "ties":
        # A few score lists shared by many units: equal averages, shared positions, ties at the cuts.
        patterns = draw(st.lists(sitting, min_size=1, max_size=3))
        scores = [draw(st.sampled_from(patterns)) for _ in range(count)]
    else:
        scores = [draw(sitting) for _ in range(count)]
    unit = st.integers(0, count - 1)
    incidents = draw(st.one_of(st.just([]), st.lists(st.tuples(unit, st.sampled_from(KINDS)), max_size=8)))
    absences = draw(st.one_of(st.just([]), st.lists(st.tuples(unit, st.sampled_from(["因病", "因公"])), max_size=5)))
    name = draw(st.sampled_from(["首批专项督导考试", "演示：基本理论+考试", "第二轮练兵"]))
    return Round(name=name, scores=scores, incidents=incidents, absences=absences)


def unit_name(index: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return f"单位{letters[index // 26]}{letters[index % 26]}"


def _score_rows(round_: Round) -> list[SimpleNamespace]:
    """What ``repository.score_aggregates`` returns: sums per unit and rank (one paper per unit)."""
    rows = []
    for index, sitting in enumerate(round_.scores):
        for rank in RANKS:
            scores = [score for r, score in sitting if r == rank]
            if not scores:
                continue
            bands = {}
            for position, low in enumerate(repository.BANDS):
                high = repository.BANDS[position - 1] if position else 101
                bands[f"band_{low}"] = sum(1 for s in scores if low <= s < high)
            rows.append(
                SimpleNamespace(
                    unit_id=index + 1,
                    rank=rank,
                    paper_id=index + 1,
                    sat=len(scores),
                    total=float(sum(scores)),
                    total_of_squares=float(sum(s * s for s in scores)),
                    pass_count=sum(s >= 60 for s in scores),
                    excellent_count=sum(s >= 90 for s in scores),
                    full_count=sum(s >= 100 for s in scores),
                    **bands,
                )
            )
    return rows


def report_of(round_: Round) -> ExamReport:
    units = [
        SimpleNamespace(id=index + 1, name=unit_name(index), headcount=3 * len(sitting) + 7)
        for index, sitting in enumerate(round_.scores)
    ]
    incidents = Counter((unit + 1, kind) for unit, kind in round_.incidents)
    return assemble_report(
        exam_id=1,
        exam_name=round_.name,
        mode="formal",
        paper=None,
        score_rows=_score_rows(round_),
        absence_rows=[
            SimpleNamespace(cadre_id=1000 + i, unit_id=unit + 1, reason=reason)
            for i, (unit, reason) in enumerate(round_.absences)
        ],
        incident_rows=[
            SimpleNamespace(unit_id=unit_id, kind=kind, incidents=n) for (unit_id, kind), n in sorted(incidents.items())
        ],
        participating=units,
        others=[],
    )


def pct(value: float | None) -> str:
    return format_percent(None if value is None else to_decimal(value))


def num(value: float | None) -> str:
    return format_number(None if value is None else to_decimal(value))


def names_in(text: str) -> list[str]:
    return re.findall(r"单位[A-Z]{2}", text)


def sentences(paragraph: str) -> list[str]:
    return [s for s in re.split(r"(?<=。)", paragraph) if s]


# The checks: each takes the report and one paragraph and recomputes what the paragraph must say.


def check_everywhere(report: ExamReport, text: str, title: str) -> None:
    assert title.count("基本理论+") <= 1, title
    for bad in ("看，但", "排在前一位", "排在后一位", "等1家", "等0家", "—", "零"):
        assert bad not in text, (bad, text)
    assert not re.search(r"等(\d+)家单位", text) or all(int(n) >= 2 for n in re.findall(r"等(\d+)家单位", text))


def check_overall(report: ExamReport, text: str) -> None:
    o = report.overall
    assert f"共考试{o.sat}人" in text
    rates = text[text.index("及格率") :] if "及格率" in text else ""
    values = [pct(o.pass_rate), pct(o.excellence_rate), pct(o.full_rate)]
    printed = re.findall(r"\d+(?:\.\d)?%", rates)
    # Every rate is stated, and no figure twice.
    assert sorted(set(printed)) == sorted(set(values)), (printed, values)
    assert len(printed) == len(set(printed)), rates
    assert ("90分及以上超过总人数一半" in text) == (o.sat > 1 and o.sat < 2 * o.excellent_count < 2 * o.sat)
    assert ("90分及以上占总人数一半" in text) == (o.sat > 1 and 2 * o.excellent_count == o.sat)
    if o.sat > 1 and o.excellent_count == o.sat:
        assert "参考干部成绩均在90分及以上" in text
    for rank in RANKS:
        count = getattr(o.by_rank, rank)
        assert (f"{RANK_NAMES[rank]}{count}人" in text or f"均为{RANK_NAMES[rank]}干部" in text) == (count > 0)


def _figure(unit: UnitRow) -> str:
    return f"{unit.name}(平均{num(unit.average)}分、优秀率{pct(unit.excellence_rate)})"


def check_ranking(report: ExamReport, paragraph: str) -> None:
    ranked = [u for u in report.units if u.position is not None]
    first = sentences(paragraph)[0]
    by_name = {u.name: u for u in ranked}
    if len(ranked) == 1:
        assert ranked[0].name in first and num(ranked[0].average) in first
        return
    if len({num(u.average) for u in ranked}) == 1:
        assert "平均成绩相同" in first
        return
    limit = min(3, len(ranked) // 2)
    top_part, _, bottom_part = first.partition("，排在")
    top, bottom = names_in(top_part.split("(其中")[0]), names_in(bottom_part.split("(其中")[0])
    for name in top + bottom:
        assert _figure(by_name[name]) in first
    averages = {u.name: float(num(u.average)) for u in ranked}
    others = [name for name in averages if name not in top]
    # The top group is exactly the units placed within the first ``limit`` positions, best first.
    assert {u.name for u in ranked if (u.position or 0) <= limit} == set(top)
    assert all(averages[t] >= averages[o] for t in top for o in others)
    assert [averages[t] for t in top] == sorted((averages[t] for t in top), reverse=True)
    assert len(top) >= limit
    if len(top) > limit:
        assert "并列第" in top_part
    word = "第一位" if limit == 1 else f"前{'一两三'[limit - 1]}位"
    assert f"排在{word}的是" in top_part
    rest = [name for name in averages if name not in top and name not in bottom]
    assert all(averages[b] <= averages[o] for b in bottom for o in rest)
    assert [averages[b] for b in bottom] == sorted(averages[b] for b in bottom)
    assert not set(top) & set(bottom)


def check_unit_groups(report: ExamReport, paragraph: str) -> None:
    ranked = [u for u in report.units if u.position is not None]
    total = len(ranked)
    rest = "".join(sentences(paragraph)[1:])
    failing = {u.name for u in ranked if u.fail_count > 0}
    nobody_passed = {u.name for u in ranked if u.pass_count == 0}
    if not failing:
        assert "无干部考试成绩不及格" in rest
    elif len(nobody_passed) == total:
        assert "参考干部考试成绩均不及格" in rest
    elif total > 1 and len(failing) == total:
        assert "各单位均有干部考试成绩不及格" in rest and "有的单位" not in rest
    else:
        clause = next(c for c in re.split("[；。]", rest) if "不及格" in c)
        assert set(names_in(clause)) == failing, (clause, failing)
        if len(failing) > 1:
            assert f"等{len(failing)}家单位均有" in clause
    leaders = {u.name for u in ranked if u.full_count > 10}
    clause = next((c for c in re.split("[；。]", rest) if "满分人数" in c), "")
    if total > 1 and leaders and len(leaders) == total:
        assert clause.startswith("各单位")
    else:
        assert set(names_in(clause)) == leaders
    gap = report.spread.gap
    assert ("相差" in paragraph) == (total > 1 and gap is not None and num(gap) != "0.0")
    if "相差" in paragraph:
        assert f"相差{num(gap)}分" in paragraph
        assert ("差别比较明显" in paragraph) == (gap is not None and gap >= 10)


def _printed(value: float | None) -> float:
    return float(num(value)) if value is not None else 0.0


def check_ranks(report: ExamReport, paragraph: str) -> None:
    rows: list[RankRow] = [r for r in report.ranks if r.sat > 0]
    for row in rows:
        assert f"{num(row.average)}分" in paragraph
    same = all(
        (_printed(a.average) > _printed(b.average)) == (_printed(a.excellence_rate) > _printed(b.excellence_rate))
        and (_printed(a.average) < _printed(b.average)) == (_printed(a.excellence_rate) < _printed(b.excellence_rate))
        for a, b in combinations(rows, 2)
    )
    assert ("优秀率趋势相同" in paragraph) == (len(rows) > 1 and same), paragraph
    if len(rows) > 1 and not same:
        for row in rows:
            assert pct(row.excellence_rate) in paragraph
    pairs = {
        (RANK_NAMES[a.rank], RANK_NAMES[b.rank])
        for a in rows
        for b in rows
        if _printed(a.average) > _printed(b.average) and _printed(a.pass_rate) < _printed(b.pass_rate)
    }
    assert ("但" in paragraph) == bool(pairs), paragraph
    if pairs:
        turn = paragraph[paragraph.index("但") :]
        stated = set()
        rank = "(?:厅级|处级|科级)"
        for better, worse in re.findall(f"({rank})干部的及格率(?:略)?低于({rank}(?:、{rank})*)干部", turn):
            stated |= {(better, w) for w in worse.split("、")}
        assert stated == pairs, (stated, pairs)


def check_discipline(report: ExamReport, paragraph: str) -> None:
    flagged = [row.unit_id for row in report.discipline if any(row.incidents.model_dump().values())]
    names = {u.unit_id: u.name for u in report.units}
    total = len(report.units)
    if not flagged:
        assert "未发现违纪现象" in paragraph
        return
    if total > 1 and len(flagged) == total:
        assert "各单位均有干部存在" in paragraph
    else:
        assert set(names_in(paragraph)) == {names[u] for u in flagged}
    # 但 turns only from the clause about the many units who kept the rules.
    assert ("但也有" in paragraph) == (len(flagged) * 2 < total)
    if "但也有" in paragraph:
        assert paragraph.index("多数单位和干部能够严于律己、自觉守纪。") < paragraph.index("但也有")
    kinds = {kind for row in report.discipline for kind, n in row.incidents.model_dump().items() if n}
    phrases = {"whispering": "交头接耳", "peeking": "旁窥偷看", "copying": "试图抄袭", "other": "其他违纪"}
    for kind, phrase in phrases.items():
        assert (phrase in paragraph) == (kind in kinds)
    assert ("等不良现象" in paragraph) == (len(kinds) > 1)


def check_absences(report: ExamReport, paragraph: str | None) -> None:
    if not report.absences:
        assert paragraph is None
        return
    assert paragraph is not None
    groups = Counter((a.unit_id, a.reason) for a in report.absences)
    assert sum(int(n) for n in re.findall(r"(\d+)名干部", paragraph)) == len(report.absences)
    assert ("共" in paragraph) == (len(groups) > 1)


def check_notice(round_: Round) -> None:
    report = report_of(round_)
    notice = build_notice(report, round_label="本轮")
    text = {section.heading: section.text for section in notice.sections}
    assert [s.number for s in notice.sections] == list("一二三四五六"[: len(notice.sections)])
    everything = "".join(text.values())
    check_everywhere(report, everything, notice.title)
    check_overall(report, text["总体情况"])
    check_ranking(report, text["单位情况"])
    check_unit_groups(report, text["单位情况"])
    check_ranks(report, text["职级情况"])
    check_discipline(report, text["考风考纪"])
    check_absences(report, text.get("缺考情况"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rounds())
def test_every_sentence_holds_for_generated_rounds(round_: Round) -> None:
    check_notice(round_)


def _fixed(scores: list[list[tuple[str, int]]], **extra: Any) -> Round:
    return Round(
        name=extra.get("name", "首批专项督导考试"),
        scores=scores,
        incidents=extra.get("incidents", []),
        absences=extra.get("absences", []),
    )


def test_the_rounds_of_the_issue() -> None:
    # Rank averages 60.4 / 74.7 / 65.8 with excellence 14.3 / 28.6 / 4.1: the trends differ (厅 vs 科).
    ting = [("ting", s) for s in (95, 60, 55, 50, 52, 60, 51)]
    chu = [("chu", s) for s in (95, 90, 70, 70, 60, 70, 68)]
    ke = [("ke", s) for s in [90] + [64] * 23 + [60]]
    round_ = _fixed(
        [ting + chu[:3], chu[3:] + ke[:12], ke[12:]],
        incidents=[(0, "whispering"), (1, "peeking")],
        name="演示：基本理论+考试",
    )
    report = report_of(round_)
    notice = build_notice(report)
    text = {s.heading: s.text for s in notice.sections}
    assert "优秀率趋势相同" not in text["职级情况"]
    assert "高低顺序与平均成绩不同" in text["职级情况"]
    assert notice.title == "关于演示：基本理论+考试情况的通报"
    assert "看，但" not in text["考风考纪"]
    check_notice(round_)


def test_all_four_units_failing_is_said_of_all() -> None:
    round_ = _fixed([[("ke", 50), ("ke", 80)] for _ in range(4)])
    text = {s.heading: s.text for s in build_notice(report_of(round_)).sections}
    assert "各单位均有干部考试成绩不及格" in text["单位情况"]
    assert "有的单位" not in text["单位情况"]
    assert "两家单位平均成绩相同" not in text["单位情况"] and "4家单位平均成绩相同，均为65.0分" in text["单位情况"]


def test_one_unit_is_named_in_the_singular() -> None:
    round_ = _fixed(
        [[("ke", 100)] * 11 + [("chu", 40)], [("ke", 70)] * 3, [("ke", 75)] * 3],
        incidents=[(1, "copying")],
        absences=[(2, "因病")],
    )
    text = {s.heading: s.text for s in build_notice(report_of(round_)).sections}
    assert "单位AA干部成绩比较突出，成绩满分人数超10人" in text["单位情况"]
    assert "单位AA有1名干部考试成绩不及格" in text["单位情况"]
    assert "排在第一位的是单位AA" in text["单位情况"] and "排在最后一位的是单位AB" in text["单位情况"]
    assert "但也有个别单位(单位AB)干部存在试图抄袭现象。" in text["考风考纪"]
    assert text["缺考情况"] == "从缺考情况看，单位AC1名干部因病缺考。"
    check_notice(round_)
