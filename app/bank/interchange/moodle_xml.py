"""Moodle XML (``<quiz>``): multichoice and truefalse questions, with categories and tags."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from app.bank.interchange._common import (
    Extras,
    FileRejected,
    Outcome,
    choice_item,
    collect,
    judge_item,
    judge_truth,
    media_warnings,
    rejected_file,
    unsupported,
    written_options,
)
from app.bank.interchange._text import (
    auto_format_to_text,
    html_to_text,
    one_line,
    plain_text,
    text_to_html,
    xml_clean,
    xml_escape,
)
from app.bank.interchange._xml import local_name, parse_xml
from app.bank.interchange.base import InterchangeResult, ItemError, QuestionDict

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element  # type hints only; parsing uses defusedxml

# Moodle writes a literal "/" inside a category name as "//".
_CATEGORY_SEPARATOR = re.compile(r"(?<!/)/(?!/)")
_CONTEXT_PREFIXES = frozenset({"$course$", "$system$", "$module$", "$coursecategory$", "$cat$"})
_FULL_MARKS = 100.0
_FRACTION_TOLERANCE = 1e-4
_TAG_MAX_LENGTH = 64
_TRUE_WORDS = frozenset({"true", "t", "yes", "正确", "对", "是"})
_FALSE_WORDS = frozenset({"false", "f", "no", "错误", "错", "否"})


# ---------------------------------------------------------------------------------------- reading


def read_moodle_xml(content: bytes) -> InterchangeResult:
    """Read a Moodle XML question export into exambank items."""
    try:
        root = parse_xml(content)
    except FileRejected as exc:
        return rejected_file(exc.message)
    if local_name(root) != "quiz":
        return rejected_file(f"不是 Moodle XML 文件：根元素是 <{local_name(root)}>，而不是 <quiz>")
    return collect(_read_questions(root))


def _read_questions(root: Element) -> Iterator[Outcome]:
    knowledge_point: str | None = None
    row = 0
    for question in root:
        if local_name(question) != "question":
            continue
        kind = question.get("type", "").strip().lower()
        if kind == "category":
            knowledge_point = category_path(question.findtext("category/text") or "")
            continue
        row += 1
        yield _read_question(row, kind, question, knowledge_point)


def category_path(raw: str) -> str | None:
    """``$course$/top/Iota/Kappa`` → ``Iota/Kappa``; None for the top category itself."""
    parts = [part.replace("//", "/").strip() for part in _CATEGORY_SEPARATOR.split(raw.strip())]
    if parts and parts[0] in _CONTEXT_PREFIXES:
        parts = parts[1:]
    if parts and parts[0] == "top":
        parts = parts[1:]
    path = "/".join(part for part in parts if part)
    return path or None


def _read_question(row: int, kind: str, question: Element, knowledge_point: str | None) -> Outcome:
    if not kind:
        return ItemError(row, "type", "<question> 元素缺少 type 属性")
    if kind not in {"multichoice", "multichoiceset", "truefalse"}:
        return unsupported(row, kind)
    stem, images = _rich_text(question.find("questiontext"))
    explanation, feedback_images = _rich_text(question.find("generalfeedback"))
    extras = Extras(
        explanation=explanation or None,
        # The category is the knowledge point only: also tagging it would change the tags on every round trip.
        tags=_tags(question),
        knowledge_point=knowledge_point,
        warnings=media_warnings([*images, *_legacy_images(question), *feedback_images]),
    )
    if kind == "truefalse":
        return _read_truefalse(row, stem, question, extras)
    return _read_multichoice(row, kind, stem, question, extras)


def _read_multichoice(row: int, kind: str, stem: str, question: Element, extras: Extras) -> Outcome:
    texts: list[str] = []
    fractions: list[float] = []
    answer_images: list[str] = []
    for position, answer in enumerate(question.findall("answer"), start=1):
        fraction = _fraction(answer)
        if fraction is None:
            raw = answer.get("fraction")
            return ItemError(row, "answer", f"第 {position} 个答案的 fraction 无法识别：{raw!r}")
        text, images = _rich_text(answer)
        texts.append(text)
        fractions.append(fraction)
        answer_images.extend(images)
    extras.warnings = [*extras.warnings, *media_warnings(answer_images)]
    # multichoiceset (all-or-nothing) is always multiple-response; it has no <single> flag.
    single = kind == "multichoice" and _is_true(question.findtext("single"), default=True)
    if single:
        right = [i for i, value in enumerate(fractions) if abs(value - _FULL_MARKS) < _FRACTION_TOLERANCE]
    else:
        right = [i for i, value in enumerate(fractions) if value > 0]
    return choice_item(row, stem, texts, right, multiple=not single, extras=extras)


def _read_truefalse(row: int, stem: str, question: Element, extras: Extras) -> Outcome:
    answers = question.findall("answer")
    for position, answer in enumerate(answers):
        fraction = _fraction(answer)
        if fraction is None or abs(fraction - _FULL_MARKS) >= _FRACTION_TOLERANCE:
            continue
        word = (answer.findtext("text") or "").strip().lower()
        if word in _TRUE_WORDS:
            return judge_item(row, stem, True, extras)
        if word in _FALSE_WORDS:
            return judge_item(row, stem, False, extras)
        # Very old exports carry other wording; Moodle then reads the answers as true, false in order.
        return judge_item(row, stem, position == 0, extras)
    return ItemError(row, "answer", "没有 fraction 为 100 的答案，无法确定正确答案")


def _rich_text(element: Element | None) -> tuple[str, list[str]]:
    if element is None:
        return "", []
    raw = element.findtext("text") or ""
    files = [file.get("name") or "" for file in element.findall("file")]
    text_format = element.get("format", "moodle_auto_format")
    if text_format in {"plain_text", "markdown"}:
        return plain_text(raw), files
    if text_format == "html":
        text, images = html_to_text(raw)
    else:
        text, images = auto_format_to_text(raw)
    return text, [*images, *files]


def _legacy_images(question: Element) -> list[str]:
    # Moodle 1.9 kept one picture per question in <image> / <image_base64>.
    name = (question.findtext("image") or "").strip()
    if name:
        return [name]
    return ["image.png"] if question.find("image_base64") is not None else []


def _tags(question: Element) -> list[str]:
    return [one_line(tag.findtext("text") or "") for tag in question.findall("tags/tag")]


def _fraction(answer: Element) -> float | None:
    try:
        return float(answer.get("fraction", "0"))
    except ValueError:
        return None


def _is_true(value: str | None, *, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"true", "1"}


# ---------------------------------------------------------------------------------------- writing


def write_moodle_xml(items: Sequence[QuestionDict]) -> bytes:
    """Write items as a Moodle XML quiz; raises ValueError for a type exambank does not have."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>"]
    current_category: str | None = None
    for item in items:
        category = item.get("knowledge_point") or None
        if category != current_category:
            lines.extend(_category_lines(category))
            current_category = category
        lines.extend(_question_lines(item))
    lines.append("</quiz>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _category_lines(knowledge_point: str | None) -> list[str]:
    path = "$course$/top" + (f"/{knowledge_point}" if knowledge_point else "")
    return [
        '  <question type="category">',
        f"    <category><text>{xml_escape(path)}</text></category>",
        "  </question>",
    ]


def _question_lines(item: QuestionDict) -> list[str]:
    kind = item.get("type")
    if kind == "judge":
        body = _truefalse_lines(item)
        moodle_type = "truefalse"
    elif kind in {"single", "multiple"}:
        body = _multichoice_lines(item)
        moodle_type = "multichoice"
    else:
        raise ValueError(f"Moodle XML 格式不能写入 {kind!r} 题")
    return [
        f'  <question type="{moodle_type}">',
        *_common_lines(item),
        *body,
        *_tag_lines(item),
        "  </question>",
    ]


def _common_lines(item: QuestionDict) -> list[str]:
    stem = str(item["stem"])
    lines = [
        f"    <name><text>{xml_escape(one_line(stem, 60))}</text></name>",
        f'    <questiontext format="html"><text>{_cdata(text_to_html(stem))}</text></questiontext>',
        f'    <generalfeedback format="html"><text>{_cdata(text_to_html(item.get("explanation") or ""))}'
        "</text></generalfeedback>",
        "    <defaultgrade>1</defaultgrade>",
        "    <hidden>0</hidden>",
    ]
    if item.get("id") is not None:
        lines.append(f"    <idnumber>{xml_escape(str(item['id']))}</idnumber>")
    return lines


def _multichoice_lines(item: QuestionDict) -> list[str]:
    options = written_options(item)
    single = item["type"] == "single"
    right_fraction = _FULL_MARKS if single else _FULL_MARKS / sum(option.right for option in options)
    # A wrong pick in a 多选 scores nothing overall, which -100 gives in Moodle.
    wrong_fraction = 0.0 if single else -_FULL_MARKS
    lines = [
        "    <penalty>0.3333333</penalty>",
        f"    <single>{'true' if single else 'false'}</single>",
        "    <shuffleanswers>false</shuffleanswers>",
        "    <answernumbering>ABCD</answernumbering>",
    ]
    for option in options:
        fraction = right_fraction if option.right else wrong_fraction
        lines.append(
            f'    <answer fraction="{format_fraction(fraction)}" format="html">'
            f"<text>{_cdata(text_to_html(option.text))}</text>"
            '<feedback format="html"><text></text></feedback></answer>'
        )
    return lines


def _truefalse_lines(item: QuestionDict) -> list[str]:
    truth = judge_truth(item)
    return [
        "    <penalty>1</penalty>",
        _truefalse_answer("true", truth),
        _truefalse_answer("false", not truth),
    ]


def _truefalse_answer(word: str, right: bool) -> str:
    fraction = "100" if right else "0"
    return (
        f'    <answer fraction="{fraction}" format="moodle_auto_format"><text>{word}</text>'
        '<feedback format="html"><text></text></feedback></answer>'
    )


def _tag_lines(item: QuestionDict) -> list[str]:
    tags = [str(tag) for tag in item.get("tags") or [] if str(tag).strip()]
    if not tags:
        return []
    inner = "".join(f"<tag><text>{xml_escape(tag)}</text></tag>" for tag in tags)
    return [f"    <tags>{inner}</tags>"]


def format_fraction(value: float) -> str:
    """Moodle's grade notation: ``50``, ``33.33333``, ``-100``."""
    return f"{value:.5f}".rstrip("0").rstrip(".")


def _cdata(text: str) -> str:
    if not text:
        return ""
    return "<![CDATA[" + xml_clean(text).replace("]]>", "]]]]><![CDATA[>") + "]]>"
