"""Exporting the question bank (.xlsx, .csv, .json and the interchange formats) and the blank template.

Every export imports back: the spreadsheets carry the template's columns, the .json is what
``POST /api/questions/import`` takes, and units are named by code so a file moves between banks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.principal import Principal
from app.bank import repository, service, sheet
from app.bank.interchange import EXPORT_FORMATS, ExportedFile, export_interchange
from app.bank.models import CATEGORY_LABELS, TYPE_LABELS, Category, Question, QuestionType
from app.bank.normalise import OPTION_KEYS
from app.bank.repository import QuestionFilter
from app.core.errors import UnprocessableError, field_error
from app.core.tabular import SheetSpec, write_csv, write_workbook
from app.org import service as org_service

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_COLUMN_WIDTHS = {"题干": 50, "解析": 40, "依据": 30, "知识点": 16, "单位代码": 10, "标签": 16}
_HEADER_FORMAT = {"bold": True, "bg_color": "#DDEBF7", "border": 1}


async def export_questions(
    session: AsyncSession, *, flt: QuestionFilter, principal: Principal, fmt: str
) -> ExportedFile:
    """The questions the caller may see, filtered like the list, as a file in ``fmt``."""
    service.ensure_can_read_bank(principal)
    if fmt not in {"xlsx", "csv", "json", *EXPORT_FORMATS}:
        raise UnprocessableError(field_error("format", f"不支持的导出格式 {fmt!r}", location="query"))
    visible = replace(flt, visible_unit_id=service.visible_unit_for(principal))
    questions = await repository.all_questions(session, visible)
    unit_codes = {unit.id: unit.code for unit in await org_service.all_units(session)}
    items = [export_item(q, unit_codes) for q in questions]
    return await anyio.to_thread.run_sync(write_export, fmt, items)


def export_item(question: Question, unit_codes: dict[int, str]) -> dict[str, Any]:
    """A question as one object of the .json import: the unit by code, a judge question without options."""
    item: dict[str, Any] = {
        "type": question.type,
        "category": question.category,
        "unit_code": unit_codes.get(question.unit_id) if question.unit_id is not None else None,
        "stem": question.stem,
        "options": question.options,
        "answer": question.answer,
        "difficulty": question.difficulty,
        "knowledge_point": question.knowledge_point,
        "explanation": question.explanation,
        "legal_basis": question.legal_basis,
        "tags": question.tags,
    }
    if question.type == QuestionType.judge:
        del item["options"]
    if item["unit_code"] is None:
        del item["unit_code"]
    return {"id": question.id, **item}


def write_export(fmt: str, items: list[dict[str, Any]]) -> ExportedFile:
    """The export file for ``items`` (blocking: run it in a worker thread)."""
    if fmt in EXPORT_FORMATS:
        return export_interchange(fmt, items)
    portable = [{k: v for k, v in item.items() if k != "id"} for item in items]
    if fmt == "json":
        content = json.dumps(portable, ensure_ascii=False, indent=1).encode()
        return ExportedFile(content, "application/json", "questions.json")
    if fmt == "csv":
        return ExportedFile(_csv_bytes(portable), "text/csv; charset=utf-8", "questions.csv")
    return ExportedFile(_xlsx_bytes(portable), XLSX_MEDIA_TYPE, "questions.xlsx")


def _csv_bytes(items: list[dict[str, Any]]) -> bytes:
    return write_csv(sheet.HEADERS, (sheet.cells_from_item(item) for item in items))


def _xlsx_bytes(items: list[dict[str, Any]]) -> bytes:
    return write_workbook([_question_sheet(items)])


def _question_sheet(items: Iterable[dict[str, Any]], choices: dict[int, list[str]] | None = None) -> SheetSpec:
    widths = {column: _COLUMN_WIDTHS.get(name, 12 if name.startswith("选项") else 8)
              for column, name in enumerate(sheet.HEADERS)}  # fmt: skip
    return SheetSpec("题目", sheet.HEADERS, [sheet.cells_from_item(item) for item in items], widths=widths,
                     header_format=_HEADER_FORMAT, freeze_header=True, choices=choices or {})  # fmt: skip


# --------------------------------------------------------------------------------------------- template


def _example(
    kind: str, category: str, stem: str, options: list[str], answer: list[str], **extra: Any
) -> dict[str, Any]:
    keyed = [{"key": key, "text": text} for key, text in zip(OPTION_KEYS, options, strict=False)]
    return {"type": kind, "category": category, "stem": stem, "options": keyed, "answer": answer, **extra}


TEMPLATE_EXAMPLES = (
    _example("single", "theory", "我国的根本政治制度是（  ）。",
             ["人民代表大会制度", "中国共产党领导的多党合作和政治协商制度", "民族区域自治制度", "基层群众自治制度"],
             ["A"],
             difficulty=2, knowledge_point="国家制度", explanation="人民代表大会制度是我国的根本政治制度。",
             legal_basis="《中华人民共和国宪法》第二条", tags=["宪法"]),
    _example("multiple", "law", "根据《中华人民共和国劳动合同法》，劳动合同应当具备的条款有（  ）。",
             ["劳动合同期限", "工作内容和工作地点", "劳动报酬", "试用期"], ["A", "B", "C"],
             difficulty=3, knowledge_point="劳动合同", explanation="试用期是可以约定的条款，不是必备条款。",
             legal_basis="《中华人民共和国劳动合同法》第十七条", tags=["劳动合同"]),
    _example("judge", "policy", "本单位的行政许可事项应当在政务服务平台公开。", [], ["T"],
             unit_code="U001", difficulty=3, knowledge_point="政务公开"),
)  # fmt: skip

TEMPLATE_GUIDE: tuple[tuple[str, str], ...] = (
    ("题型", "单选、多选 或 判断（也可写 单选题、多项选择题 等）。"),
    ("类别", "、".join(CATEGORY_LABELS.values()) + "。基本理论、基础法律题目各单位共用；"
             "部门政策业务题目属于某一个单位。"),
    ("单位代码", "部门政策业务题必填，填本单位的代码；基本理论、基础法律题不填。"),
    ("题干", "必填，题目正文。"),
    ("选项A … 选项H", "单选、多选题填 2 至 8 个选项，从选项A起依次填写，中间不要空列；判断题不填选项。"),
    ("答案", "单选题填一个字母，如 B；多选题至少两个字母，可写 AC、A,C 或 A、C（全角字母 ＡＣ 也可）；"
             "判断题填 对/错、正确/错误、√/×、T/F。"),
    ("难度", "1 至 5 的整数，不填为 3。"),
    ("知识点", "可选，如 “劳动合同”。"),
    ("解析", "可选，答案的说明。"),
    ("依据", "可选，法律法规或文件依据，如 “《中华人民共和国宪法》第二条”。"),
    ("标签", "可选，多个标签用逗号分隔。"),
    ("导入规则", "整个文件要么全部导入，要么一题也不导入：任何一行有错，都会列出全部出错的行号、列和原因。"
                 "与题库中题干和选项都相同的题目会更新原题（生成新版本）；相似题目只提示，不阻止导入。"),
    ("示例行", "“题目”工作表中的三行是示例（单选、多选、判断各一），导入前请删除或改写。"),
)  # fmt: skip


async def blank_template() -> bytes:
    """The blank .xlsx import template: the columns, one example row per type, and a guide sheet in Chinese."""
    return await anyio.to_thread.run_sync(template_bytes)


def template_bytes() -> bytes:
    # Other spellings (单选题, theory …) are accepted too, so the drop-downs only suggest.
    choices = {sheet.HEADERS.index("题型"): list(TYPE_LABELS.values()),
               sheet.HEADERS.index("类别"): [CATEGORY_LABELS[c] for c in Category]}  # fmt: skip
    guide = SheetSpec("填写说明", ("列", "说明"), TEMPLATE_GUIDE, widths={0: 16, 1: 90}, wrap=True,
                      first_column_bold=True)  # fmt: skip
    return write_workbook([_question_sheet(TEMPLATE_EXAMPLES, choices), guide])
