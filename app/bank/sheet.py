"""The spreadsheet layout shared by the .xlsx/.csv import, the export and the blank template."""

from __future__ import annotations

from typing import Any

from app.bank.models import CATEGORY_LABELS, TYPE_LABELS, Category, QuestionType
from app.bank.normalise import OPTION_KEYS
from app.core.tabular import unneutralise

OPTION_HEADERS = tuple(f"选项{key}" for key in OPTION_KEYS)
HEADERS = ("题型", "类别", "单位代码", "题干", *OPTION_HEADERS, "答案", "难度", "知识点", "解析", "依据", "标签")
REQUIRED_HEADERS = ("题型", "题干", "答案")
COLUMN_FIELDS = {
    "题型": "type", "类别": "category", "单位代码": "unit_code", "题干": "stem", "答案": "answer",
    "难度": "difficulty", "知识点": "knowledge_point", "解析": "explanation", "依据": "legal_basis", "标签": "tags",
}  # fmt: skip
_FIELD_COLUMNS = {field: header for header, field in COLUMN_FIELDS.items()} | {"unit_id": "单位代码", "options": "选项"}
JUDGE_ANSWER_WORDS = {"T": "正确", "F": "错误"}
TAG_SEPARATOR = ","


def column_label(field: str) -> str:
    """The sheet column a question field comes from: ``options.B`` → 选项B, ``answer`` → 答案."""
    name, _, key = field.partition(".")
    if name == "options" and key:
        return f"选项{key}"
    return _FIELD_COLUMNS.get(name, field)


def item_from_cells(values: dict[str, str]) -> dict[str, Any]:
    """A question dict from one sheet row (header → cell text); columns the sheet lacks stay absent."""
    cells = {header: unneutralise(text) for header, text in values.items()}
    item: dict[str, Any] = {field: cells[header] for header, field in COLUMN_FIELDS.items() if header in cells}
    if any(header in cells for header in OPTION_HEADERS):
        item["options"] = [
            {"key": key, "text": cells[header]}
            for key, header in zip(OPTION_KEYS, OPTION_HEADERS, strict=True)
            if cells.get(header)
        ]
    return item


def cells_from_item(item: dict[str, Any]) -> list[str | int]:
    """One sheet row, in ``HEADERS`` order, for a question dict as the .json export writes it."""
    options = {option["key"]: option["text"] for option in item.get("options") or []}
    texts = [
        TYPE_LABELS[QuestionType(item["type"])],
        CATEGORY_LABELS[Category(item["category"])],
        item.get("unit_code") or "",
        item["stem"],
        *(options.get(key, "") for key in OPTION_KEYS),
        answer_text(item),
    ]
    rest = [item.get("knowledge_point") or "", item.get("explanation") or "", item.get("legal_basis") or "",
            TAG_SEPARATOR.join(item.get("tags") or [])]  # fmt: skip
    # The one writer (app.core.tabular) neutralises formula text; the importer undoes it (unneutralise).
    return [*texts, int(item["difficulty"]), *rest]


def answer_text(item: dict[str, Any]) -> str:
    """The 答案 cell: ``AC`` for choice questions, 正确/错误 for judge questions."""
    if item["type"] == QuestionType.judge:
        return JUDGE_ANSWER_WORDS[item["answer"][0]]
    return "".join(item["answer"])
