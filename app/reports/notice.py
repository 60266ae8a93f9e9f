"""The notice text of section 二 of the seed notice, filled from the report: 总体情况, 单位情况, 职级情况,
考风考纪 and 缺考, as Markdown or as a printable HTML page.

The sentences are built here from the figures (which clause appears depends on the data); the Jinja2
templates in ``templates/`` lay them out. HTML autoescapes every value, so a unit named ``<b>`` stays text.
Rates print as the notice prints them: one decimal, except a clean ``100%``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.org.models import RANK_LABELS, Rank
from app.reports.numbers import format_number, format_percent, to_decimal
from app.reports.schemas import ExamReport, RankRow, UnitRow

TEMPLATES = Path(__file__).parent / "templates"
INCIDENT_PHRASES = {"whispering": "交头接耳", "peeking": "旁窥偷看", "copying": "试图抄袭", "other": "其他违纪"}
# A standard deviation up to this many points reads as a concentrated distribution.
CONCENTRATED_STDEV = 12
# Unit averages this far apart say the units' training differs markedly.
MARKED_GAP = 10
FULL_SCORE_LEADERS = 10


@dataclass(frozen=True)
class NoticeSection:
    heading: str
    text: str


@dataclass(frozen=True)
class Notice:
    title: str
    sections: list[NoticeSection]


def _d(value: float | None) -> Decimal | None:
    return None if value is None else to_decimal(value)


def _pct(value: float | None) -> str:
    return format_percent(_d(value))


def _num(value: float | None) -> str:
    return format_number(_d(value))


CHINESE_DIGITS = "零一两三四五六七八九十"


def _join(names: list[str]) -> str:
    return "、".join(names)


TYPE_PHRASES = {"single": "单选", "multiple": "多选", "judge": "判断"}


def _paper(report: ExamReport) -> str | None:
    paper = report.paper
    if paper is None:
        return None
    points = f"{paper.total_points:g}"
    types = [TYPE_PHRASES.get(t, t) for t in paper.types]
    kinds = "、".join(types[:-1]) + "和" + types[-1] if len(types) > 1 else "".join(types)
    return f"考试试卷共{paper.questions}道题、{points}分，限时{paper.time_limit_minutes}分钟，题型为{kinds}。"


def _overall(report: ExamReport, round_label: str, unit_count: int) -> str:
    o = report.overall
    if o.sat == 0:
        return f"从总体情况看，{round_label}尚无干部完成考试。"
    by_rank = o.by_rank
    spread = "比较集中" if o.stdev is not None and o.stdev <= CONCENTRATED_STDEV else "比较分散"
    if o.excellent_count * 2 > o.sat:
        excellent = "90分及以上超过总人数一半"
    elif o.excellent_count * 2 == o.sat:
        excellent = "90分及以上占总人数一半"
    else:
        excellent = f"90分及以上占总人数的{_pct(o.excellence_rate)}"
    return (
        f"从总体情况看，{round_label}共考试{o.sat}人(厅级{by_rank.ting}人、处级{by_rank.chu}人、科级{by_rank.ke}人)，"
        f"占{unit_count}家单位机关干部总人数的{_pct(o.headcount_share)}。"
        f"考试成绩整体分布{spread}，平均成绩为{_num(o.average)}分，{excellent}，"
        f"及格率、优秀率(90分及以上)、满分率分别为{_pct(o.pass_rate)}、{_pct(o.excellence_rate)}和{_pct(o.full_rate)}。"
    )


def _unit_figure(unit: UnitRow) -> str:
    return f"{unit.name}(平均{_num(unit.average)}分、优秀率{_pct(unit.excellence_rate)})"


def _units(report: ExamReport) -> str:
    ranked = [u for u in report.units if u.position is not None]
    if not ranked:
        return "从单位情况看，尚无单位完成考试。"
    # Three and three, as the notice names them; fewer when there are fewer than six units, never overlapping.
    top = ranked[: min(3, (len(ranked) + 1) // 2)]
    bottom = list(reversed(ranked[len(top):]))[:3]
    text = f"从单位情况看，考试成绩排在前{CHINESE_DIGITS[len(top)]}位的是{_join([_unit_figure(u) for u in top])}"
    if bottom:
        text += f"，排在后{CHINESE_DIGITS[len(bottom)]}位的是{_join([_unit_figure(u) for u in bottom])}"
    text += "。"
    leaders = [u.name for u in ranked if u.full_count > FULL_SCORE_LEADERS]
    failing = sorted((u for u in ranked if u.fail_count > 0), key=lambda u: (-u.fail_count, u.average or 0))
    clauses = []
    if leaders:
        clauses.append(
            f"部分单位干部成绩比较突出，如{_join(leaders)}等{len(leaders)}家单位，成绩满分人数均超{FULL_SCORE_LEADERS}人"
        )
    if failing:
        names = _join([u.name for u in failing])
        clauses.append(f"有的单位的个别干部成绩相对靠后，如{names}等{len(failing)}家单位均有干部考试成绩不及格")
    else:
        clauses.append("各单位均无干部考试成绩不及格")
    text += "；".join(clauses) + "。"
    gap = report.spread.gap
    if gap is not None and len(ranked) > 1:
        text += f"可以看出，各单位平均成绩最高相差{_num(gap)}分"
        text += "，单位之间抓学习培训的力度和成效差别比较明显。" if gap >= MARKED_GAP else "。"
    return text


def _ranks(report: ExamReport) -> str:
    rows = [r for r in report.ranks if r.sat > 0]
    if not rows:
        return "从职级情况看，尚无干部完成考试。"
    labels = "、".join(RANK_LABELS[Rank(r.rank)] for r in rows)
    averages = "、".join(f"{_num(r.average)}分" for r in rows)
    each = "分别为" if len(rows) > 1 else "为"
    text = f"从职级情况看，{labels}干部考试平均成绩{each}{averages}"
    if len(rows) > 1 and _same_order(rows):
        text += "，优秀率趋势相同"
    lower = _lower_pass_rates(rows)
    if lower:
        text += "，但" + "，".join(lower)
    return text + "。"


def _same_order(rows: list[RankRow]) -> bool:
    """Whether excellence rates rise and fall with the averages, rank by rank."""
    for first, second in pairwise(rows):
        a, b = first.average or 0, second.average or 0
        x, y = first.excellence_rate or 0, second.excellence_rate or 0
        if (a > b) != (x > y) or (a < b) != (x < y):
            return False
    return True


def _lower_pass_rates(rows: list[RankRow]) -> list[str]:
    """Clauses for a rank with the better average but the lower pass rate than the next rank."""
    clauses = []
    for first, second in pairwise(rows):
        if (first.average or 0) > (second.average or 0) and (first.pass_rate or 0) < (second.pass_rate or 0):
            how = "略低于" if (second.pass_rate or 0) - (first.pass_rate or 0) < 1 else "低于"
            clauses.append(
                f"{RANK_LABELS[Rank(first.rank)]}干部的及格率{how}{RANK_LABELS[Rank(second.rank)]}干部"
            )
    return clauses


def _discipline(report: ExamReport) -> str:
    names = {u.unit_id: u.name for u in report.units}
    rows = [row for row in report.discipline if any(row.incidents.model_dump().values())]
    if not rows:
        return "从考风考纪看，各单位和干部能够严于律己、自觉守纪，未发现违纪现象。"
    kinds = [phrase for kind, phrase in INCIDENT_PHRASES.items()
             if any(getattr(row.incidents, kind) for row in rows)]
    text = "从考风考纪看，"
    if len(rows) * 2 < len(report.units):
        text += "多数单位和干部能够严于律己、自觉守纪。"
    units = _join([names.get(row.unit_id, str(row.unit_id)) for row in rows])
    return text + f"但也有一些单位({units})干部存在{_join(kinds)}等不良现象。"


def _absences(report: ExamReport) -> str | None:
    if not report.absences:
        return None
    names = {u.unit_id: u.name for u in report.units}
    groups: dict[tuple[int, str], int] = {}
    for absence in report.absences:
        key = (absence.unit_id, absence.reason)
        groups[key] = groups.get(key, 0) + 1
    parts = [
        f"{names.get(unit_id, str(unit_id))}{count}名干部{reason}缺考" for (unit_id, reason), count in groups.items()
    ]
    return f"从缺考情况看，共{len(report.absences)}人缺考：{_join(parts)}。"


def build_notice(report: ExamReport, *, round_label: str = "本轮") -> Notice:
    """The notice's paragraphs for one exam report."""
    unit_count = len(report.units)
    paper = _paper(report)
    sections = [NoticeSection("试卷情况", paper)] if paper else []
    sections += [
        NoticeSection("总体情况", _overall(report, round_label, unit_count)),
        NoticeSection("单位情况", _units(report)),
        NoticeSection("职级情况", _ranks(report)),
        NoticeSection("考风考纪", _discipline(report)),
    ]
    absences = _absences(report)
    if absences:
        sections.append(NoticeSection("缺考情况", absences))
    return Notice(title=f"关于{report.exam_name}“基本理论+”考试情况的通报", sections=sections)


@lru_cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_notice(notice: Notice, *, html: bool) -> str:
    """The notice as Markdown, or as a printable HTML page."""
    template = _environment().get_template("notice.html.j2" if html else "notice.md.j2")
    return template.render(notice=notice)
