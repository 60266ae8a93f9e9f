"""Building blocks shared by every reader: item dicts, skip reasons, file-level errors."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.bank.interchange._text import file_name_of
from app.bank.interchange.base import InterchangeResult, ItemError, ParsedItem, QuestionDict, SkippedItem

Outcome = ParsedItem | SkippedItem | ItemError

OPTION_KEYS = "ABCDEFGH"
MIN_OPTIONS = 2
MAX_OPTIONS = len(OPTION_KEYS)
# exambank's own writers put a 判断 question into single-answer-only formats (Aiken, QTI) as
# this exact pair, so readers turn the pair back into a judge question.
JUDGE_AS_CHOICE = ("正确", "错误")
TRUE_KEY, FALSE_KEY = "T", "F"

# Row 0 is not an item: it marks a problem with the file as a whole.
FILE_ROW = 0

# The Chinese names of the question types exambank does not have, by the type's name in the file
# (Moodle XML's type attribute, GIFT's kinds, QTI's interaction), lower-cased.
_KIND_NAMES: dict[str, str] = {
    "essay": "问答题",
    "match": "匹配题",
    "matching": "匹配题",
    "randomsamatch": "随机匹配题",
    "numerical": "数值题",
    "shortanswer": "简答/填空题",
    "cloze": "嵌入答案的完形填空题",
    "multianswer": "嵌入答案的完形填空题",
    "description": "不含题目的说明文字",
    "calculated": "计算题",
    "calculatedsimple": "计算题",
    "calculatedmulti": "计算选择题",
    "ddwtos": "拖放填空题",
    "ddimageortext": "拖放图片题",
    "ddmarker": "拖放标记题",
    "gapselect": "选词填空题",
    "ordering": "排序题",
    "random": "随机题",
    "textentryinteraction": "填空题",
    "extendedtextinteraction": "问答题",
    "matchinteraction": "匹配题",
    "associateinteraction": "关联匹配题",
    "gapmatchinteraction": "拖放填空题",
    "inlinechoiceinteraction": "选词填空题",
    "orderinteraction": "排序题",
}

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".tif", ".tiff")


class FileRejected(Exception):
    """The file as a whole cannot be read; the message is shown to the uploader."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def rejected_file(message: str) -> InterchangeResult:
    """A result holding one file-level error (row 0) and no items."""
    return InterchangeResult(errors=[ItemError(FILE_ROW, "file", message)])


def collect(outcomes: Iterable[Outcome]) -> InterchangeResult:
    """Sort per-item outcomes into the result's three lists, keeping file order."""
    result = InterchangeResult()
    for outcome in outcomes:
        if isinstance(outcome, ParsedItem):
            result.items.append(outcome)
        elif isinstance(outcome, SkippedItem):
            result.skipped.append(outcome)
        else:
            result.errors.append(outcome)
    return result


def unsupported(row: int, kind: str) -> SkippedItem:
    """A skip for a question type exambank does not have: its Chinese name, and its name in the file."""
    chinese = _KIND_NAMES.get(kind.lower())
    if chinese is None:
        return SkippedItem(row, f"不支持“{kind}”题型")
    return SkippedItem(row, f"不支持{chinese}（题型 {kind}）")


@dataclass(slots=True)
class Extras:
    """What a format may carry besides the question itself."""

    explanation: str | None = None
    tags: list[str] = field(default_factory=list)
    knowledge_point: str | None = None
    warnings: list[str] = field(default_factory=list)


def choice_item(
    row: int,
    stem: str,
    options: Sequence[str],
    right: Sequence[int],
    *,
    multiple: bool,
    extras: Extras,
) -> ParsedItem | ItemError:
    """Build a single/multiple item; ``right`` holds 0-based option positions.

    A multiple-response question with exactly one right option becomes ``single`` because an
    exambank 多选 needs at least two keys.
    """
    problem = _choice_problem(row, stem, options, right, multiple=multiple)
    if problem is not None:
        return problem
    right_set = sorted(set(right))
    if not multiple and tuple(options) == JUDGE_AS_CHOICE:
        return judge_item(row, stem, right_set == [0], extras)
    data: QuestionDict = {
        "type": "multiple" if len(right_set) > 1 else "single",
        "stem": stem,
        "options": [{"key": OPTION_KEYS[i], "text": text} for i, text in enumerate(options)],
        "answer": [OPTION_KEYS[i] for i in right_set],
    }
    return ParsedItem(row, _with_extras(data, extras))


def _choice_problem(
    row: int, stem: str, options: Sequence[str], right: Sequence[int], *, multiple: bool
) -> ItemError | None:
    if not stem:
        return ItemError(row, "stem", "题干为空")
    if len(options) < MIN_OPTIONS:
        return ItemError(row, "options", f"只有 {len(options)} 个选项，选择题至少需要 2 个")
    if len(options) > MAX_OPTIONS:
        return ItemError(row, "options", f"共 {len(options)} 个选项，最多允许 {MAX_OPTIONS} 个")
    for position, text in enumerate(options):
        if not text:
            return ItemError(row, "options", f"选项 {OPTION_KEYS[position]} 没有内容")
    if not right:
        return ItemError(row, "answer", "没有标出正确答案")
    if not multiple and len(set(right)) > 1:
        count = len(set(right))
        return ItemError(row, "answer", f"单选题标出了 {count} 个正确答案")
    return None


def judge_item(row: int, stem: str, truth: bool, extras: Extras) -> ParsedItem | ItemError:
    """Build a 判断 item whose answer is ``T`` when ``truth`` else ``F``."""
    if not stem:
        return ItemError(row, "stem", "题干为空")
    data: QuestionDict = {"type": "judge", "stem": stem, "answer": [TRUE_KEY if truth else FALSE_KEY]}
    return ParsedItem(row, _with_extras(data, extras))


def _with_extras(data: QuestionDict, extras: Extras) -> QuestionDict:
    data["explanation"] = extras.explanation or None
    data["tags"] = list(dict.fromkeys(tag for tag in extras.tags if tag))
    data["knowledge_point"] = extras.knowledge_point or None
    if extras.warnings:
        data["warnings"] = list(dict.fromkeys(extras.warnings))
    return data


def media_warnings(sources: Iterable[str]) -> list[str]:
    """One warning per distinct embedded image or file that the import leaves behind."""
    names = dict.fromkeys(file_name_of(src) for src in sources)
    return [_media_warning(name) for name in names]


def _media_warning(name: str) -> str:
    if name.lower().endswith(_IMAGE_SUFFIXES) or name.startswith("data:image"):
        shown = "(inline data)" if name.startswith("data:") else name
        return f"embedded image {shown} not imported (图片未导入)"
    return f"embedded file {name} not imported (附件未导入)"


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(content: bytes) -> str:
    """Decode an uploaded text file: BOM-marked Unicode, UTF-8, or GB18030 saved by Chinese Windows."""
    if not content.strip():
        raise FileRejected("文件为空")
    text = _decode(content)
    if _looks_binary(text):
        raise FileRejected("这不是文本文件")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode(content: bytes) -> str:
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            try:
                return content.decode(encoding)
            except UnicodeDecodeError as exc:
                raise FileRejected(f"文件不是有效的 {encoding} 文本") from exc
    for encoding in ("utf-8", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileRejected("文件既不是 UTF-8 也不是 GB18030 编码的文本")


def _looks_binary(text: str) -> bool:
    # GB18030 accepts almost any byte soup, so binary files are told apart by control characters.
    controls = sum(1 for char in text if char < " " and char not in "\t\n\r\f")
    return "\x00" in text or controls * 100 > len(text)


# ------------------------------------------------------------------ writers' view of an item


@dataclass(frozen=True, slots=True)
class WrittenOption:
    key: str
    text: str
    right: bool


def judge_truth(item: QuestionDict) -> bool:
    """True for a judge item answered ``["T"]``, False for ``["F"]``; ValueError otherwise."""
    answer = [str(key) for key in item.get("answer") or []]
    if answer == [TRUE_KEY]:
        return True
    if answer == [FALSE_KEY]:
        return False
    raise ValueError(f"判断题的答案应为 ['T'] 或 ['F']，而不是 {answer!r}")


def written_options(item: QuestionDict) -> list[WrittenOption]:
    """The options of a single/multiple item, each marked right or not; ValueError on a stray key."""
    options = item.get("options") or []
    keys = [str(option["key"]) for option in options]
    answer = {str(key) for key in item.get("answer") or []}
    if not answer or not answer <= set(keys):
        raise ValueError(f"答案 {sorted(answer)!r} 不是本题的选项 {keys!r}")
    return [WrittenOption(key, str(option["text"]), key in answer) for key, option in zip(keys, options, strict=True)]
