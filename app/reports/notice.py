"""The notice (通报) of section 二 of the seed notice, filled from the report: 试卷情况, 总体情况, 单位情况,
职级情况, 考风考纪 and 缺考情况, as Markdown, as a printable HTML page or as a .docx document.

Every clause is decided by the figures it states:
- comparisons and trends are computed over every pair (``优秀率趋势相同`` only when the excellence rates of
  the ranks order exactly as their averages do; otherwise the rates are stated);
- a group of units has a singular, a plural and an "all units" form (``X有干部…`` / ``如A、B等2家单位…`` /
  ``各单位均…``), never ``等1家单位``;
- a connective (``但``) only follows the clause it turns from;
- no figure is stated twice (equal rates are said once with ``均为``).
Figures are compared as they are printed (one decimal, half up), so what a reader sees agrees with what
the text says about it. The Jinja2 templates in ``templates/`` lay the sentences out; HTML autoescapes
every value, so a unit named ``<b>`` stays text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import combinations
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
# Failing examinees up to this share of a unit's sitters are "个别干部".
FEW_FAILING_SHARE = 0.1
# How many units the notice names at the top and at the bottom of the ranking.
NAMED_UNITS = 3
EXAM_WORD = "“基本理论+”"
SECTION_NUMBERS = "一二三四五六七八九十"
CHINESE_DIGITS = "零一两三四五六七八九十"
ORDINALS = "零一二三四五六七八九十"
TYPE_PHRASES = {"single": "单选", "multiple": "多选", "judge": "判断"}


@dataclass(frozen=True)
class NoticeSection:
    heading: str
    text: str
    number: str = ""

    @property
    def numbered_heading(self) -> str:
        return f"{self.number}、{self.heading}" if self.number else self.heading


@dataclass(frozen=True)
class Notice:
    title: str
    sections: list[NoticeSection]
    office: str | None = None
    issued_on: date | None = None

    @property
    def date_text(self) -> str | None:
        if self.issued_on is None:
            return None
        return f"{self.issued_on.year}年{self.issued_on.month}月{self.issued_on.day}日"


def _pct(value: float | None) -> str:
    return format_percent(None if value is None else to_decimal(value))


def _num(value: float | None) -> str:
    return format_number(None if value is None else to_decimal(value))


def _join(names: Sequence[str]) -> str:
    return "、".join(names)


def _and(items: Sequence[str]) -> str:
    """``A``, ``A和B``, ``A、B和C``."""
    return _join(items[:-1]) + "和" + items[-1] if len(items) > 1 else "".join(items)


def _count_word(count: int) -> str:
    return CHINESE_DIGITS[count] if count < len(CHINESE_DIGITS) else str(count)


def _ordinal(position: int) -> str:
    return ORDINALS[position] if position < len(ORDINALS) else str(position)


def notice_title(exam_name: str) -> str:
    """关于…考试情况的通报, naming 基本理论+ once whether or not the exam's name already does."""
    name = exam_name.strip()
    if "基本理论+" in name or name.endswith("考试"):
        return f"关于{name}情况的通报"
    return f"关于{name}{EXAM_WORD}考试情况的通报"


def _paper(report: ExamReport) -> str | None:
    paper = report.paper
    if paper is None:
        return None
    points = f"{paper.total_points:g}"
    kinds = _and([TYPE_PHRASES.get(t, t) for t in paper.types])
    return f"考试试卷共{paper.questions}道题、{points}分，限时{paper.time_limit_minutes}分钟，题型为{kinds}。"


def _rates_clause(labelled: Sequence[tuple[str, str]]) -> str:
    """``A、B、C分别为x、y和z``; equal printed values are said once: ``A、B均为x，C为z``."""
    if len({value for _, value in labelled}) == len(labelled) and len(labelled) > 1:
        return f"{_join([label for label, _ in labelled])}分别为{_and([value for _, value in labelled])}"
    groups: list[tuple[list[str], str]] = []
    for label, value in labelled:
        if groups and groups[-1][1] == value:
            groups[-1][0].append(label)
        else:
            groups.append(([label], value))
    parts = [f"{_join(labels)}{'均为' if len(labels) > 1 else '为'}{value}" for labels, value in groups]
    return "，".join(parts)


def _rank_mix(report: ExamReport) -> str:
    counts = [(RANK_LABELS[rank], getattr(report.overall.by_rank, rank)) for rank in Rank]
    present = [(label, count) for label, count in counts if count]
    if len(present) == 1:
        return f"(均为{present[0][0]}干部)"
    return "(" + "、".join(f"{label}{count}人" for label, count in present) + ")"


def _overall(report: ExamReport, round_label: str, unit_count: int) -> str:
    o = report.overall
    if o.sat == 0:
        return f"从总体情况看，{round_label}尚无干部完成考试。"
    units = "该单位" if unit_count == 1 else f"{unit_count}家单位"
    text = (
        f"从总体情况看，{round_label}共考试{o.sat}人{_rank_mix(report)}，"
        f"占{units}机关干部总人数的{_pct(o.headcount_share)}。"
    )
    clauses = []
    if o.sat > 1:
        concentrated = o.stdev is not None and o.stdev <= CONCENTRATED_STDEV
        clauses.append(f"考试成绩整体分布{'比较集中' if concentrated else '比较分散'}")
    clauses.append(f"平均成绩为{_num(o.average)}分")
    # The share of 90 and above is the excellence rate stated next: only its relation to half is added here.
    if o.sat > 1 and o.excellent_count == o.sat:
        clauses.append("参考干部成绩均在90分及以上")
    elif o.sat > 1 and o.excellent_count * 2 > o.sat:
        clauses.append("90分及以上超过总人数一半")
    elif o.sat > 1 and o.excellent_count * 2 == o.sat:
        clauses.append("90分及以上占总人数一半")
    clauses.append(
        _rates_clause(
            [
                ("及格率", _pct(o.pass_rate)),
                ("优秀率(90分及以上)", _pct(o.excellence_rate)),
                ("满分率", _pct(o.full_rate)),
            ]
        )
    )
    return text + "，".join(clauses) + "。"


def _unit_figure(unit: UnitRow) -> str:
    return f"{unit.name}(平均{_num(unit.average)}分、优秀率{_pct(unit.excellence_rate)})"


def _reverse_positions(ranked: Sequence[UnitRow]) -> dict[int, int]:
    """Competition positions counted from the bottom (the worst unit is 1)."""
    return {u.unit_id: 1 + sum(1 for other in ranked if (other.average or 0) < (u.average or 0)) for u in ranked}


def _tied_note(group: Sequence[UnitRow], positions: dict[int, int], prefix: str, limit: int) -> str:
    """``(其中C、D并列第三位)`` when a tie at the cut makes the group longer than the places it names."""
    if len(group) <= limit:
        return ""
    last = max(positions[u.unit_id] for u in group)
    tied = [u.name for u in group if positions[u.unit_id] == last]
    return f"(其中{_join(tied)}并列{prefix}第{_ordinal(last)}位)"


def _places(count: int, top: bool) -> str:
    if count == 1:
        return "第一位" if top else "最后一位"
    return f"{'前' if top else '后'}{_count_word(count)}位"


def _ranking(ranked: list[UnitRow]) -> str:
    if len(ranked) == 1:
        unit = ranked[0]
        return f"从单位情况看，{unit.name}平均成绩为{_num(unit.average)}分，优秀率为{_pct(unit.excellence_rate)}。"
    if len({_num(u.average) for u in ranked}) == 1:
        units = "两家单位" if len(ranked) == 2 else f"{len(ranked)}家单位"
        return f"从单位情况看，{units}平均成绩相同，均为{_num(ranked[0].average)}分。"
    limit = min(NAMED_UNITS, len(ranked) // 2)
    positions = {u.unit_id: u.position or 0 for u in ranked}
    top = [u for u in ranked if positions[u.unit_id] <= limit]
    reverse = _reverse_positions(ranked)
    named = {u.unit_id for u in top}
    bottom = sorted(
        (u for u in ranked if reverse[u.unit_id] <= limit and u.unit_id not in named),
        key=lambda u: (reverse[u.unit_id], ranked.index(u)),
    )
    text = f"从单位情况看，考试成绩排在{_places(limit, True)}的是{_join([_unit_figure(u) for u in top])}" + _tied_note(
        top, positions, "", limit
    )
    if bottom:
        places = min(limit, len(bottom))
        text += f"，排在{_places(places, False)}的是{_join([_unit_figure(u) for u in bottom])}" + _tied_note(
            bottom, reverse, "倒数", places
        )
    return text + "。"


def _units(report: ExamReport) -> str:
    ranked = [u for u in report.units if u.position is not None]
    if not ranked:
        return "从单位情况看，尚无单位完成考试。"
    text = _ranking(ranked)
    total = len(ranked)
    clauses = []
    leaders = [u.name for u in ranked if u.full_count > FULL_SCORE_LEADERS]
    if leaders:
        if total > 1 and len(leaders) == total:
            clauses.append(f"各单位干部成绩比较突出，成绩满分人数均超{FULL_SCORE_LEADERS}人")
        elif len(leaders) == 1:
            clauses.append(f"{leaders[0]}干部成绩比较突出，成绩满分人数超{FULL_SCORE_LEADERS}人")
        else:
            clauses.append(
                f"部分单位干部成绩比较突出，如{_join(leaders)}等{len(leaders)}家单位，"
                f"成绩满分人数均超{FULL_SCORE_LEADERS}人"
            )
    clauses.append(_failing(ranked))
    text += "；".join(clauses) + "。"
    gap = report.spread.gap
    if gap is not None and total > 1 and _num(gap) != "0.0":
        among = "两家单位平均成绩相差" if total == 2 else "各单位平均成绩最高相差"
        text += f"可以看出，{among}{_num(gap)}分"
        text += "，单位之间抓学习培训的力度和成效差别比较明显。" if gap >= MARKED_GAP else "。"
    return text


def _failing(ranked: list[UnitRow]) -> str:
    failing = sorted((u for u in ranked if u.fail_count > 0), key=lambda u: (-u.fail_count, u.average or 0))
    total = len(ranked)
    if not failing:
        return "该单位无干部考试成绩不及格" if total == 1 else "各单位均无干部考试成绩不及格"
    nobody_passed = [u for u in failing if u.pass_count == 0]
    if len(nobody_passed) == total:
        return "该单位参考干部考试成绩均不及格" if total == 1 else "各单位参考干部考试成绩均不及格"
    if total > 1 and len(failing) == total:
        return "各单位均有干部考试成绩不及格"
    if len(failing) == 1:
        unit = failing[0]
        return f"{unit.name}有{unit.fail_count}名干部考试成绩不及格"
    few = all(u.fail_count <= FEW_FAILING_SHARE * u.sat for u in failing)
    lead = "有的单位的个别干部成绩相对靠后" if few else "有的单位干部成绩相对靠后"
    return f"{lead}，如{_join([u.name for u in failing])}等{len(failing)}家单位均有干部考试成绩不及格"


def _ranks(report: ExamReport) -> str:
    rows = [r for r in report.ranks if r.sat > 0]
    if not rows:
        return "从职级情况看，尚无干部完成考试。"
    if len(rows) == 1:
        label = RANK_LABELS[Rank(rows[0].rank)]
        return f"从职级情况看，参考干部均为{label}干部，平均成绩为{_num(rows[0].average)}分。"
    labels = "、".join(RANK_LABELS[Rank(r.rank)] for r in rows)
    averages = "、".join(f"{_num(r.average)}分" for r in rows)
    text = f"从职级情况看，{labels}干部考试平均成绩分别为{averages}"
    if same_order(rows):
        text += "，优秀率趋势相同"
    else:
        rates = _rates_clause([("优秀率", "、".join(_pct(r.excellence_rate) for r in rows))])
        text += f"，{rates}，高低顺序与平均成绩不同"
    lower = lower_pass_rates(rows)
    if lower:
        text += "，但" + "，".join(lower)
    return text + "。"


def _printed(value: float | None) -> float:
    return float(_num(value)) if value is not None else 0.0


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def same_order(rows: Sequence[RankRow]) -> bool:
    """Whether the printed excellence rates order the ranks exactly as the printed averages do (every pair)."""

    def order(a: float | None, b: float | None) -> int:
        return _sign(_printed(a) - _printed(b))

    return all(
        order(a.average, b.average) == order(a.excellence_rate, b.excellence_rate) for a, b in combinations(rows, 2)
    )


def lower_pass_rates(rows: Sequence[RankRow]) -> list[str]:
    """Clauses for each rank with the better average but a lower pass rate than another rank."""
    clauses = []
    for better in rows:
        below = [
            other
            for other in rows
            if _printed(better.average) > _printed(other.average)
            and _printed(better.pass_rate) < _printed(other.pass_rate)
        ]
        if not below:
            continue
        slight = all(_printed(other.pass_rate) - _printed(better.pass_rate) < 1 for other in below)
        others = "、".join(RANK_LABELS[Rank(other.rank)] for other in below)
        clauses.append(f"{RANK_LABELS[Rank(better.rank)]}干部的及格率{'略低于' if slight else '低于'}{others}干部")
    return clauses


def _incident_kinds(kinds: Sequence[str]) -> str:
    return f"{_join(kinds)}等不良现象" if len(kinds) > 1 else f"{kinds[0]}现象"


def _discipline(report: ExamReport) -> str:
    names = {u.unit_id: u.name for u in report.units}
    rows = [row for row in report.discipline if any(row.incidents.model_dump().values())]
    if not rows:
        return "从考风考纪看，各单位和干部能够严于律己、自觉守纪，未发现违纪现象。"
    kinds = _incident_kinds(
        [phrase for kind, phrase in INCIDENT_PHRASES.items() if any(getattr(row.incidents, kind) for row in rows)]
    )
    units = [names.get(row.unit_id, str(row.unit_id)) for row in rows]
    total = len(report.units)
    if len(rows) >= total:
        who = f"{units[0]}有干部" if total == 1 else "各单位均有干部"
        return f"从考风考纪看，{who}存在{kinds}。"
    if len(rows) * 2 < total:
        some = "个别单位" if len(rows) == 1 else "一些单位"
        return f"从考风考纪看，多数单位和干部能够严于律己、自觉守纪。但也有{some}({_join(units)})干部存在{kinds}。"
    return f"从考风考纪看，{len(rows)}家单位({_join(units)})干部存在{kinds}。"


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
    if len(parts) == 1:
        return f"从缺考情况看，{parts[0]}。"
    return f"从缺考情况看，共{len(report.absences)}人缺考：{_join(parts)}。"


def build_notice(
    report: ExamReport, *, round_label: str = "本轮", office: str | None = None, issued_on: date | None = None
) -> Notice:
    """The notice's numbered paragraphs for one exam report, with its issuing office and date."""
    unit_count = len(report.units)
    paper = _paper(report)
    parts = [("试卷情况", paper)] if paper else []
    parts += [
        ("总体情况", _overall(report, round_label, unit_count)),
        ("单位情况", _units(report)),
        ("职级情况", _ranks(report)),
        ("考风考纪", _discipline(report)),
    ]
    absences = _absences(report)
    if absences:
        parts.append(("缺考情况", absences))
    sections = [
        NoticeSection(heading, text, SECTION_NUMBERS[index] if index < len(SECTION_NUMBERS) else str(index + 1))
        for index, (heading, text) in enumerate(parts)
    ]
    return Notice(title=notice_title(report.exam_name), sections=sections, office=office, issued_on=issued_on)


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


def notice_docx(notice: Notice) -> bytes:
    """The notice as a Word document (blocking: python-docx builds it in memory; call it in a thread)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    document = Document()
    for section in document.sections:
        section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4, as official documents are printed
        section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
        section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)

    def style_run(run: object, font: str, size: float, *, bold: bool = False) -> None:
        run.font.name = font  # type: ignore[attr-defined]
        run.font.size = Pt(size)  # type: ignore[attr-defined]
        run.font.bold = bold  # type: ignore[attr-defined]
        # East Asian text takes its font from w:eastAsia, not from the Latin name.
        run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)  # type: ignore[attr-defined]

    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    style_run(title.add_run(notice.title), "方正小标宋简体", 22)
    for part in notice.sections:
        heading = document.add_paragraph()
        heading.paragraph_format.first_line_indent = Pt(32)
        style_run(heading.add_run(part.numbered_heading), "黑体", 16)
        body = document.add_paragraph()
        body.paragraph_format.first_line_indent = Pt(32)
        body.paragraph_format.line_spacing = Pt(28)
        style_run(body.add_run(part.text), "仿宋_GB2312", 16)
    lines = [line for line in (notice.office, notice.date_text) if line]
    for index, line in enumerate(lines):
        signature = document.add_paragraph()
        signature.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        signature.paragraph_format.space_before = Pt(32 if index == 0 else 0)
        style_run(signature.add_run(line), "仿宋_GB2312", 16)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
