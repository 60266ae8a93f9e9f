"""The report as .xlsx (概况, 单位排名, 职级, 个人成绩, 试题分析) and as .csv (unit ranking or individuals).

Both are written by ``app.core.tabular`` (the one writer of every export): text a spreadsheet would run
as a formula is neutralised, numbers stay numbers. Workbooks are built in a worker thread.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

import anyio

from app.bank.models import CATEGORY_LABELS, TYPE_LABELS, Category, QuestionType
from app.core.labels import local_time_text
from app.core.tabular import SheetSpec, safe_cell, write_csv, write_workbook
from app.exams.room.shuffling import displayed_numbers, to_displayed_keys
from app.org.models import RANK_LABELS, Rank
from app.reports.numbers import round_half_up, to_decimal
from app.reports.schemas import ExamReport, IndividualRow

UNIT_HEADERS = [
    "名次",
    "单位",
    "参考人数",
    "缺考人数",
    "平均分",
    "及格率(%)",
    "优秀率(%)",
    "满分率(%)",
    "满分人数",
    "不及格人数",
]
INDIVIDUAL_HEADERS = ["单位", "姓名", "职级", "得分", "百分制得分", "交卷时间"]
RANK_HEADERS = ["职级", "参考人数", "平均分", "及格率(%)", "优秀率(%)", "满分率(%)"]
ITEM_HEADERS = [
    "单位",
    "试卷",
    "题号",
    "试题ID",
    "题型",
    "类别",
    "分值",
    "作答人数",
    "通过率(%)",
    "点二列相关",
    "高低分组区分度",
    "标记",
]
FLAG_LABELS = {"negative_discrimination": "区分度为负", "too_hard": "过难", "too_easy": "过易"}
TWO_DECIMALS = to_decimal(0.01)


# The rule lives in app.core.tabular; the name stays for the report's callers.
neutralise = safe_cell


def _rank_label(rank: str) -> str:
    return RANK_LABELS[Rank(rank)] if rank in Rank.__members__ else rank


def unit_rows(report: ExamReport) -> list[list[Any]]:
    return [
        [
            u.position,
            u.name,
            u.sat,
            u.absent,
            u.average,
            u.pass_rate,
            u.excellence_rate,
            u.full_rate,
            u.full_count,
            u.fail_count,
        ]
        for u in report.units
    ]


def individual_rows(individuals: Sequence[IndividualRow]) -> list[list[Any]]:
    return [
        [i.unit_name, i.cadre_name, _rank_label(i.rank), i.points, i.score, local_time_text(i.submitted_at)]
        for i in individuals
    ]


def overview_rows(report: ExamReport) -> list[list[Any]]:
    o = report.overall
    return [
        ["考试", report.exam_name],
        ["参考人数", o.sat],
        ["其中厅级", o.by_rank.ting],
        ["其中处级", o.by_rank.chu],
        ["其中科级", o.by_rank.ke],
        ["缺考人数", o.absent],
        ["参考单位机关干部总人数", o.headcount],
        ["参考人数占比(%)", o.headcount_share],
        ["平均分", o.average],
        ["标准差", o.stdev],
        ["及格人数", o.pass_count],
        ["及格率(%)", o.pass_rate],
        ["优秀人数(90分及以上)", o.excellent_count],
        ["优秀率(%)", o.excellence_rate],
        ["满分人数", o.full_count],
        ["满分率(%)", o.full_rate],
        ["单位平均分最高相差", report.spread.gap],
    ]


def rank_rows(report: ExamReport) -> list[list[Any]]:
    return [[_rank_label(r.rank), r.sat, r.average, r.pass_rate, r.excellence_rate, r.full_rate] for r in report.ranks]


def _rounded(value: float | None, *, percent: bool = False) -> float | None:
    """Half-up, like the report's figures: a share as a percentage with one decimal, a coefficient with two."""
    if value is None:
        return None
    if percent:
        return float(round_half_up(to_decimal(value) * 100))
    return float(round_half_up(to_decimal(value), TWO_DECIMALS))


def _type_label(value: str) -> str:
    return TYPE_LABELS[QuestionType(value)] if value in QuestionType.__members__ else value


def _category_label(value: str) -> str:
    return CATEGORY_LABELS[Category(value)] if value in Category.__members__ else value


def item_rows(items: dict[str, Any], unit_names: dict[int, str]) -> list[list[Any]]:
    return [
        [
            unit_names.get(paper["unit_id"], paper["unit_id"]),
            paper["paper_id"],
            item["position"],
            item["question_id"],
            _type_label(item["type"]),
            _category_label(item["category"]),
            item["points"],
            item["attempts"],
            _rounded(item["facility"], percent=True),
            _rounded(item["point_biserial"]),
            _rounded(item["upper_lower"]),
            "、".join(FLAG_LABELS.get(flag, flag) for flag in item["flags"]),
        ]
        for paper in items["papers"]
        for item in paper["items"]
    ]


def _workbook(sheets: list[tuple[str, list[str], list[list[Any]]]]) -> bytes:
    return write_workbook([SheetSpec(name, headers, rows, default_width=14) for name, headers, rows in sheets])


async def report_workbook(report: ExamReport, individuals: Sequence[IndividualRow], items: dict[str, Any]) -> bytes:
    """The .xlsx export; ``individuals`` and ``items`` are already scoped to what the caller may see."""
    names = {u.unit_id: u.name for u in report.units}
    sheets = [
        ("概况", ["项目", "数值"], overview_rows(report)),
        ("单位排名", UNIT_HEADERS, unit_rows(report)),
        ("职级", RANK_HEADERS, rank_rows(report)),
        ("个人成绩", INDIVIDUAL_HEADERS, individual_rows(individuals)),
        ("试题分析", ITEM_HEADERS, item_rows(items, names)),
    ]
    return await anyio.to_thread.run_sync(_workbook, sheets)


def csv_bytes(headers: list[str], rows: list[list[Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Chinese text correctly."""
    return write_csv(headers, rows)


# Long format for other tools: stable English headers, one row per examinee and question.
RESPONSE_HEADERS = [
    "exam_id",
    "unit_code",
    "unit_name",
    "rank",
    "examinee",
    "question_id",
    "question_version",
    "type",
    "paper_no",
    "shown_no",
    "paper_answer",
    "shown_answer",
    "paper_key",
    "shown_key",
    "correct",
    "score",
    "max_score",
]


def examinee_pseudonym(secret: str, exam_id: int, participant_id: int) -> str:
    """A stable id for one examinee of one exam that names nobody (keyed: not reversible without the key)."""
    digest = hmac.new(secret.encode(), f"exam:{exam_id}:participant:{participant_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def response_rows(exam_id: int, rows: Sequence[Any], secret: str) -> list[list[Any]]:
    """The raw responses in long format; answers in the paper's keys and as the examinee saw them."""
    out: list[list[Any]] = []
    for row in rows:
        shown_numbers = displayed_numbers(row.question_order or [])
        order = (row.option_orders or {}).get(str(row.position))
        key = "".join(str(k) for k in (row.answer_key or {}).get(str(row.position), []))
        answered = row.keys is not None
        shown_answer = shown_key = None
        if order is not None:
            shown_key = "".join(to_displayed_keys(row.type, order, key))
            if answered:
                shown_answer = "".join(to_displayed_keys(row.type, order, row.keys))
        elif answered:
            shown_answer, shown_key = row.keys, key
        else:
            shown_key = key
        out.append(
            [
                exam_id,
                row.unit_code,
                row.unit_name,
                _rank_label(row.rank),
                examinee_pseudonym(secret, exam_id, row.participant_id),
                row.question_id,
                row.question_version,
                row.type,
                row.position,
                shown_numbers.get(row.position, row.position),
                row.keys if answered else None,
                shown_answer,
                key,
                shown_key,
                1 if row.is_correct else 0,
                float(row.points or 0),
                float(row.max_points),
            ]
        )
    return out


async def responses_workbook(rows: list[list[Any]]) -> bytes:
    return await anyio.to_thread.run_sync(_workbook, [("responses", RESPONSE_HEADERS, rows)])
