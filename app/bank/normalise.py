"""Pure validation and normalisation of one question, shared by the API, the imports and the exports.

Every entry point turns its input into a plain dict and calls ``normalise_question``; it returns either
the cleaned question or every problem found, each naming its field, so an import can report row by row.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from app.bank.models import Category, QuestionType

OPTION_KEYS = "ABCDEFGH"
JUDGE_OPTIONS = ({"key": "T", "text": "正确"}, {"key": "F", "text": "错误"})
# Names a person reads in the row errors.
TYPE_NAMES = {"single": "单选题", "multiple": "多选题", "judge": "判断题"}
CATEGORY_NAMES = {"theory": "基本理论", "law": "基础法律", "policy": "部门政策业务"}
FIELD_NAMES = {"knowledge_point": "知识点", "explanation": "解析", "legal_basis": "依据", "stem": "题干"}
JUDGE_WORDS = {
    "T": "T", "TRUE": "T", "对": "T", "正确": "T", "√": "T", "✓": "T", "✔": "T", "是": "T", "Y": "T", "YES": "T",
    "F": "F", "FALSE": "F", "错": "F", "错误": "F", "×": "F", "✗": "F", "✘": "F", "X": "F", "否": "F", "N": "F",
    "NO": "F",
}  # fmt: skip
TYPE_WORDS = {
    "single": QuestionType.single, "单选": QuestionType.single, "单选题": QuestionType.single,
    "单项选择": QuestionType.single, "单项选择题": QuestionType.single,
    "multiple": QuestionType.multiple, "多选": QuestionType.multiple, "多选题": QuestionType.multiple,
    "多项选择": QuestionType.multiple, "多项选择题": QuestionType.multiple,
    "judge": QuestionType.judge, "判断": QuestionType.judge, "判断题": QuestionType.judge,
}  # fmt: skip
CATEGORY_WORDS = {
    "theory": Category.theory, "理论": Category.theory, "基本理论": Category.theory,
    "应知应会基本理论知识": Category.theory, "基本理论知识": Category.theory,
    "law": Category.law, "法律": Category.law, "基础法律": Category.law, "基础法律知识": Category.law,
    "policy": Category.policy, "政策": Category.policy, "业务": Category.policy, "部门政策业务": Category.policy,
    "部门政策业务知识": Category.policy, "政策业务": Category.policy,
}  # fmt: skip

MAX_STEM = 4000
MAX_OPTION = 1000
MAX_TEXT = 4000
_TAG_RE = re.compile(r"<br\s*/?>|</p\s*>|</div\s*>", re.IGNORECASE)
_HTML_TAG_RE = re.compile(r"<[^>]+>")
_SPACES_RE = re.compile(r"[ \t\u00a0\u3000]+")
_ANSWER_SPLIT_RE = re.compile(r"[\s,，、;；/|]+")
_NOT_WORD_RE = re.compile(r"[\W_]+")


class Problems(list[tuple[str, str]]):
    """(field, message) pairs found while normalising one question."""

    def add(self, field_name: str, message: str) -> None:
        self.append((field_name, message))


@dataclass(slots=True)
class CleanQuestion:
    type: QuestionType
    category: Category
    stem: str
    options: list[dict[str, str]]
    answer: list[str]
    unit_id: int | None = None
    unit_code: str | None = None
    difficulty: int = 3
    knowledge_point: str | None = None
    explanation: str | None = None
    legal_basis: str | None = None
    tags: list[str] = field(default_factory=list)

    def content(self) -> dict[str, Any]:
        """The fields a version snapshots (what an edit may change)."""
        return {
            "type": str(self.type),
            "category": str(self.category),
            "unit_id": self.unit_id,
            "stem": self.stem,
            "options": self.options,
            "answer": self.answer,
            "difficulty": self.difficulty,
            "knowledge_point": self.knowledge_point,
            "explanation": self.explanation,
            "legal_basis": self.legal_basis,
            "tags": self.tags,
        }


def clean_text(value: object) -> str:
    """Decode HTML entities, drop markup, fold runs of spaces; keep the words as written."""
    if value is None:
        return ""
    text = str(value)
    if "<" in text and ">" in text:
        text = _TAG_RE.sub("\n", text)
        text = _HTML_TAG_RE.sub("", text)
    text = html.unescape(text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES_RE.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def fold_key(value: str) -> str:
    """NFKC-fold and upper-case an option letter: ``ａ`` and ``Ａ`` both become ``A``."""
    return unicodedata.normalize("NFKC", value).strip().upper()


def parse_answer(value: object, question_type: QuestionType) -> list[str] | None:
    """Answer keys from ``["A","C"]``, ``"AC"``, ``"A,C"``, ``"A、C"``, ``"ＡＣ"``, or 对/错 for judge questions."""
    if value is None:
        return None
    parts: list[str]
    if isinstance(value, list | tuple):
        parts = [fold_key(str(v)) for v in value]
    else:
        text = fold_key(str(value))
        if question_type == QuestionType.judge:
            parts = [text]
        elif _ANSWER_SPLIT_RE.search(text):
            parts = [p for p in _ANSWER_SPLIT_RE.split(text) if p]
        else:
            parts = list(text)
    if question_type == QuestionType.judge:
        return [JUDGE_WORDS.get(p, p) for p in parts]
    keys: list[str] = []
    for part in parts:
        if len(part) > 1 and all(c in OPTION_KEYS for c in part):
            keys.extend(part)
        else:
            keys.append(part)
    return sorted(dict.fromkeys(keys), key=lambda k: (OPTION_KEYS.find(k) if k in OPTION_KEYS else 99, k))


def _enum_word(value: object, words: dict[str, Any]) -> Any:
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return words.get(text) or words.get(text.lower())


def parse_type(value: object) -> QuestionType | None:
    """A question type from ``single`` or a Chinese word such as 单选题; None when unknown."""
    found: QuestionType | None = _enum_word(value, TYPE_WORDS)
    return found


def parse_category(value: object) -> Category | None:
    """A category from ``theory`` or a Chinese word such as 基本理论; None when unknown."""
    found: Category | None = _enum_word(value, CATEGORY_WORDS)
    return found


def _clean_options(raw: object, problems: Problems) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        problems.add("options", "选项应为 {key, text} 的列表")
        return []
    options: list[dict[str, str]] = []
    for index, item in enumerate(raw):
        if isinstance(item, dict):
            key = fold_key(str(item.get("key") or (OPTION_KEYS[index] if index < len(OPTION_KEYS) else "?")))
            text = clean_text(item.get("text"))
        else:
            key = OPTION_KEYS[index] if index < len(OPTION_KEYS) else "?"
            text = clean_text(item)
        if not text:
            problems.add(f"options.{key}", f"选项 {key} 没有内容")
        elif len(text) > MAX_OPTION:
            problems.add(f"options.{key}", f"选项 {key} 超过 {MAX_OPTION} 个字符")
        options.append({"key": key, "text": text})
    keys = [o["key"] for o in options]
    if len(set(keys)) != len(keys):
        problems.add("options", "选项字母重复：" + ",".join(keys))
    elif keys != list(OPTION_KEYS[: len(keys)]):
        problems.add("options", "选项字母须按 A、B、C … 顺序排列，实际为 " + ",".join(keys))
    return options


def _optional_text(data: dict[str, Any], name: str, problems: Problems, limit: int = MAX_TEXT) -> str | None:
    text = clean_text(data.get(name))
    if len(text) > limit:
        problems.add(name, f"{FIELD_NAMES.get(name, name)}超过 {limit} 个字符")
    return text or None


def _difficulty(value: object, problems: Problems) -> int:
    if value is None or value == "":
        return 3
    try:
        number = float(str(value).strip())
    except ValueError:
        problems.add("difficulty", f"难度 {value!r} 不是 1 到 5 的数字")
        return 3
    if not number.is_integer() or not 1 <= number <= 5:
        problems.add("difficulty", f"难度 {value!r} 不是 1 到 5 的整数")
        return 3
    return int(number)


def _tags(value: object, problems: Problems) -> list[str]:
    if value is None or value == "":
        return []
    raw = value if isinstance(value, list) else re.split(r"[,，;；、|]", str(value))
    tags = [clean_text(t) for t in raw]
    tags = list(dict.fromkeys(t for t in tags if t))
    if any(len(t) > 64 for t in tags):
        problems.add("tags", "标签超过 64 个字符")
    return tags


def _check_answer(qtype: QuestionType, options: list[dict[str, str]], answer: list[str], problems: Problems) -> None:
    if not answer:
        problems.add("answer", "答案不能为空")
        return
    if qtype == QuestionType.judge:
        if len(answer) != 1 or answer[0] not in {"T", "F"}:
            problems.add("answer", "判断题的答案应为 对/错、正确/错误、√/× 或 T/F")
        return
    if not 2 <= len(options) <= 8:
        problems.add("options", f"{TYPE_NAMES.get(qtype, qtype)}应有 2 到 8 个选项，而不是 {len(options)} 个")
    keys = {o["key"] for o in options}
    unknown = [k for k in answer if k not in keys]
    if unknown:
        problems.add("answer", "答案 " + ",".join(unknown) + " 不在选项中")
    if qtype == QuestionType.single and len(answer) != 1:
        problems.add("answer", f"单选题只能有一个答案，而不是 {len(answer)} 个")
    if qtype == QuestionType.multiple and len(answer) < 2:
        problems.add("answer", "多选题至少有两个答案")


def normalise_question(data: dict[str, Any]) -> tuple[CleanQuestion | None, Problems]:
    """Validate and clean one question dict; returns the question or the problems (never both)."""
    problems = Problems()
    qtype = _enum_word(data.get("type"), TYPE_WORDS)
    if qtype is None:
        problems.add("type", f"题型 {data.get('type')!r} 不是单选/多选/判断之一")
    category = _enum_word(data.get("category"), CATEGORY_WORDS)
    if category is None:
        problems.add("category", f"类别 {data.get('category')!r} 不是基本理论/基础法律/部门政策业务之一")
    stem = clean_text(data.get("stem"))
    if not stem:
        problems.add("stem", "题干不能为空")
    elif len(stem) > MAX_STEM:
        problems.add("stem", f"题干超过 {MAX_STEM} 个字符")
    unit_id = data.get("unit_id")
    unit_code = clean_text(data.get("unit_code")) or None
    if unit_id is not None and (not isinstance(unit_id, int) or isinstance(unit_id, bool)):
        problems.add("unit_id", "单位编号必须是整数")
        unit_id = None
    has_unit = unit_id is not None or unit_code is not None
    if category == Category.policy and not has_unit:
        problems.add("unit_id", "部门政策题属于一个单位：必须填写单位（unit_id 或单位代码）")
    if category in {Category.theory, Category.law} and has_unit:
        problems.add("unit_id", f"{CATEGORY_NAMES.get(category, category)}题各单位共用，不属于某个单位")
    options: list[dict[str, str]] = []
    answer: list[str] = []
    if qtype == QuestionType.judge:
        if data.get("options") not in (None, [], ""):
            raw = data["options"]
            texts = (
                {clean_text(o.get("text") if isinstance(o, dict) else o) for o in raw}
                if isinstance(raw, list)
                else set()
            )
            if not texts <= {"正确", "错误", "对", "错", "True", "False", "true", "false"}:
                problems.add("options", "判断题不填选项（固定为 T 正确 / F 错误）")
        options = [dict(o) for o in JUDGE_OPTIONS]
    elif qtype is not None:
        options = _clean_options(data.get("options"), problems)
    if qtype is not None:
        answer = parse_answer(data.get("answer"), qtype) or []
        _check_answer(qtype, options, answer, problems)
    difficulty = _difficulty(data.get("difficulty"), problems)
    knowledge_point = _optional_text(data, "knowledge_point", problems, limit=255)
    explanation = _optional_text(data, "explanation", problems)
    legal_basis = _optional_text(data, "legal_basis", problems)
    tags = _tags(data.get("tags"), problems)
    if problems or qtype is None or category is None:
        return None, problems
    return (
        CleanQuestion(
            type=qtype,
            category=category,
            stem=stem,
            options=options,
            answer=answer,
            unit_id=unit_id,
            unit_code=unit_code,
            difficulty=difficulty,
            knowledge_point=knowledge_point,
            explanation=explanation,
            legal_basis=legal_basis,
            tags=tags,
        ),
        problems,
    )


def search_text(stem: str, options: list[dict[str, str]]) -> str:
    """What text search looks in: the stem and option texts, NFKC-folded and lower-cased."""
    joined = "\n".join([stem, *(o["text"] for o in options)])
    return unicodedata.normalize("NFKC", joined).lower()


def fold_stem(text: str) -> str:
    """A stem (or option text) NFKC-folded, lower-cased, without punctuation or spacing: what duplicates compare."""
    return _NOT_WORD_RE.sub("", unicodedata.normalize("NFKC", text).lower())


def stem_fingerprint(question_type: str, stem: str) -> str:
    """Digest of a stem with punctuation and spacing folded: equal digests are exact duplicates."""
    return hashlib.sha256(f"{question_type}:{fold_stem(stem)}".encode()).hexdigest()
