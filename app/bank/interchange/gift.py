"""GIFT, Moodle's plain-text question format (``::title:: stem {=right ~wrong}``)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from app.bank.interchange._common import (
    Extras,
    FileRejected,
    Outcome,
    choice_item,
    collect,
    decode_text,
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
)
from app.bank.interchange.base import InterchangeResult, ItemError, QuestionDict
from app.bank.interchange.moodle_xml import category_path, format_fraction

# Escaped specials are swapped for private-use characters while the structure is parsed, then
# swapped back, so an escaped "=" or "}" can never be taken for markup.
_PLACEHOLDERS = {
    "\\": "\ue000",
    ":": "\ue001",
    "#": "\ue002",
    "=": "\ue003",
    "{": "\ue004",
    "}": "\ue005",
    "~": "\ue006",
    "n": "\ue007",
}
_RESTORE = str.maketrans({v: ("\n" if k == "n" else k) for k, v in _PLACEHOLDERS.items()})
_ESCAPE = re.compile(r"\\([\\:#={}~n])")
_SPECIALS = frozenset("\\~=#{}:")

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_TITLE = re.compile(r"^\s*::(.*?)::", re.DOTALL)
_FORMAT = re.compile(r"^\s*\[(html|moodle|plain|markdown)\]")
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d*)?)%")
_TAG_COMMENT = re.compile(r"\[tag:([^\]]+)\]")
_CATEGORY = re.compile(r"^\s*\$CATEGORY:(.*)$")
_TRUE_WORDS = frozenset({"T", "TRUE"})
_FALSE_WORDS = frozenset({"F", "FALSE"})
_MISSING_WORD = "_____"
_RIGHT = 100.0


# ---------------------------------------------------------------------------------------- reading


def read_gift(content: bytes) -> InterchangeResult:
    """Read a GIFT file into exambank items."""
    try:
        text = decode_text(content)
    except FileRejected as exc:
        return rejected_file(exc.message)
    return collect(_read_blocks(text))


@dataclass(slots=True)
class _Block:
    body: str
    tags: list[str]
    category: str | None  # the $CATEGORY: path set in this block, if any


def _split_blocks(text: str) -> Iterator[_Block]:
    for chunk in _BLANK_LINE.split(text):
        body_lines: list[str] = []
        tags: list[str] = []
        category: str | None = None
        for line in chunk.split("\n"):
            stripped = line.strip()
            if stripped.startswith("//"):
                tags.extend(tag.strip() for tag in _TAG_COMMENT.findall(stripped))
            elif match := _CATEGORY.match(line):
                category = match.group(1).strip()
            else:
                body_lines.append(line)
        yield _Block("\n".join(body_lines).strip(), tags, category)


def _read_blocks(text: str) -> Iterator[Outcome]:
    knowledge_point: str | None = None
    row = 0
    for block in _split_blocks(text):
        if block.category is not None:
            knowledge_point = category_path(block.category)
        if not block.body:
            continue
        row += 1
        # The category is the knowledge point only: also tagging it would change the tags on every round trip.
        extras = Extras(tags=block.tags, knowledge_point=knowledge_point)
        yield _read_question(row, _protect(block.body), extras)


def _protect(text: str) -> str:
    return _ESCAPE.sub(lambda match: _PLACEHOLDERS[match.group(1)], text)


def _restore(text: str) -> str:
    return text.translate(_RESTORE)


def _read_question(row: int, body: str, extras: Extras) -> Outcome:
    rest = _TITLE.sub("", body, count=1)
    text_format, rest = _take_format(rest, "moodle")
    start = rest.find("{")
    if start < 0:
        return unsupported(row, "description")
    end = rest.find("}", start)
    if end < 0:
        return ItemError(row, "answer", "答案块以 { 开始，但没有以 } 结束")
    before, answers, after = rest[:start], rest[start + 1 : end].strip(), rest[end + 1 :]
    # Text after the answers makes a "missing word" question: the blank marks where they go.
    stem_markup = f"{before}{_MISSING_WORD}{after}" if after.strip() else before
    answers, feedback_markup = _split_general_feedback(answers)
    kind = _question_kind(answers)
    if kind not in {"multichoice", "truefalse"}:
        return unsupported(row, kind)
    stem, stem_images = _clean(stem_markup, text_format)
    explanation, feedback_images = _clean(feedback_markup, text_format)
    extras.explanation = explanation or None
    extras.warnings = media_warnings([*stem_images, *feedback_images])
    if kind == "truefalse":
        return judge_item(row, stem, _answer_word(answers) in _TRUE_WORDS, extras)
    return _read_multichoice(row, stem, answers, text_format, extras)


def _take_format(text: str, default: str) -> tuple[str, str]:
    match = _FORMAT.match(text)
    if match is None:
        return default, text
    return match.group(1), text[match.end() :]


def _split_general_feedback(answers: str) -> tuple[str, str]:
    separator = answers.rfind("####")
    if separator < 0:
        return answers, ""
    return answers[:separator].strip(), answers[separator + 4 :]


def _question_kind(answers: str) -> str:
    # The same order of tests as Moodle's GIFT importer, so files classify the same way.
    if not answers:
        return "essay"
    if answers.startswith("#"):
        return "numerical"
    if "~" in answers:
        return "multichoice"
    if "=" in answers and "->" in answers:
        return "match"
    word = _answer_word(answers)
    if word in _TRUE_WORDS or word in _FALSE_WORDS:
        return "truefalse"
    return "shortanswer"


def _answer_word(answers: str) -> str:
    return answers.split("#", 1)[0].strip().upper()


def _read_multichoice(row: int, stem: str, answers: str, text_format: str, extras: Extras) -> Outcome:
    parts = [part.strip() for part in answers.replace("=", "~=").split("~")]
    if parts and not parts[0]:
        parts = parts[1:]
    texts: list[str] = []
    weights: list[float] = []
    marked: list[bool] = []
    images: list[str] = []
    for part in parts:
        is_marked, weight, markup = _answer_weight(part)
        markup = markup.split("#", 1)[0]  # per-answer feedback is not kept
        answer_format, markup = _take_format(markup, text_format)
        text, answer_images = _clean(markup, answer_format)
        texts.append(text)
        weights.append(weight)
        marked.append(is_marked)
        images.extend(answer_images)
    extras.warnings = [*extras.warnings, *media_warnings(images)]
    if any(marked):
        # "=" marks the one right answer; weighted "~%n%" answers then only give partial credit.
        right = [i for i, flag in enumerate(marked) if flag]
        return choice_item(row, stem, texts, right, multiple=False, extras=extras)
    right = [i for i, weight in enumerate(weights) if weight > 0]
    return choice_item(row, stem, texts, right, multiple=True, extras=extras)


def _answer_weight(part: str) -> tuple[bool, float, str]:
    if part.startswith("="):
        return True, _RIGHT, part[1:]
    match = _WEIGHT.match(part)
    if match is None:
        return False, 0.0, part
    return False, float(match.group(1)), part[match.end() :]


def _clean(markup: str, text_format: str) -> tuple[str, list[str]]:
    text = _restore(markup)
    if text_format == "html":
        return html_to_text(text)
    if text_format == "moodle":
        return auto_format_to_text(text)
    return plain_text(text), []


# ---------------------------------------------------------------------------------------- writing


def write_gift(items: Sequence[QuestionDict]) -> bytes:
    """Write items as GIFT; raises ValueError for a type exambank does not have."""
    chunks: list[str] = []
    current_category: str | None = None
    for item in items:
        category = item.get("knowledge_point") or None
        if category != current_category:
            chunks.append("$CATEGORY: $course$/top" + (f"/{category}" if category else ""))
            current_category = category
        chunks.append(_question_text(item))
    return ("\n\n".join(chunks) + "\n").encode("utf-8")


def gift_escape(text: str) -> str:
    """Backslash-escape GIFT's special characters (and newlines) in ``text``."""
    escaped = "".join(f"\\{char}" if char in _SPECIALS else char for char in text)
    return escaped.replace("\n", "\\n")


def _html(text: str) -> str:
    return gift_escape(text_to_html(text))


def _question_text(item: QuestionDict) -> str:
    stem = str(item["stem"])
    lines = _comment_lines(item)
    lines.append(f"::{gift_escape(one_line(stem, 60) or 'question')}::[html]{_html(stem)}{{")
    lines.extend(f"\t{line}" for line in _answer_lines(item))
    if item.get("explanation"):
        lines.append(f"\t####{_html(str(item['explanation']))}")
    lines.append("}")
    return "\n".join(lines)


def _comment_lines(item: QuestionDict) -> list[str]:
    # Moodle 3.6+ reads "// [id:…]" and "// [tag:…]" comments back into the question.
    lines = []
    if item.get("id") is not None:
        lines.append(f"// [id:{one_line(str(item['id']))}]")
    for tag in item.get("tags") or []:
        tag_text = one_line(str(tag))
        if tag_text and "]" not in tag_text:
            lines.append(f"// [tag:{tag_text}]")
    return lines


def _answer_lines(item: QuestionDict) -> list[str]:
    kind = item.get("type")
    if kind == "judge":
        return ["TRUE" if judge_truth(item) else "FALSE"]
    if kind not in {"single", "multiple"}:
        raise ValueError(f"GIFT 格式不能写入 {kind!r} 题")
    options = written_options(item)
    right_weight = format_fraction(_RIGHT / sum(option.right for option in options))
    lines = []
    for option in options:
        markup = _html(option.text)
        if markup.startswith("["):
            markup = f"[html]{markup}"  # so text like "[plain]…" is not read as a format marker
        if kind == "single":
            prefix = "=" if option.right else ("~%0%" if markup.startswith("%") else "~")
        else:
            prefix = f"~%{right_weight}%" if option.right else "~%-100%"
        lines.append(prefix + markup)
    return lines
