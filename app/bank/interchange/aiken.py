"""Aiken: one-answer choice questions as ``stem / A) option … / ANSWER: X`` lines.

Aiken has no true/false type and no multiple-response questions. The writer therefore puts a
判断 question as the two options ``A. 正确`` / ``B. 错误`` (which every reader turns back into a
judge question) and reports multiple-choice items as skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from app.bank.interchange._common import (
    JUDGE_AS_CHOICE,
    OPTION_KEYS,
    Extras,
    FileRejected,
    Outcome,
    choice_item,
    collect,
    decode_text,
    judge_truth,
    rejected_file,
    written_options,
)
from app.bank.interchange._text import one_line, plain_text
from app.bank.interchange.base import InterchangeResult, ItemError, QuestionDict, SkippedItem

# Moodle needs "A)" or "A." (a space after is optional since Moodle 3.6); Chinese files also use
# full-width marks and "、".
_OPTION = re.compile(r"^([A-Z])\s*[.)．）、]\s*(.*)$")
_ANSWER = re.compile(r"^ANSWER\s*[:：]\s*(.*)$")
_ANSWER_LETTER = re.compile(r"^([A-Za-z])\s*(?:[.)．）、].*)?$")


# ---------------------------------------------------------------------------------------- reading


def read_aiken(content: bytes) -> InterchangeResult:
    """Read an Aiken file into exambank single-choice items."""
    try:
        text = decode_text(content)
    except FileRejected as exc:
        return rejected_file(exc.message)
    return collect(_read_lines(text.split("\n")))


@dataclass(slots=True)
class _Pending:
    row: int
    stem_lines: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    # Set when options arrive before any question text: the item is already broken.
    orphan_line: int | None = None
    after_blank: bool = False

    def accepts_more_stem(self) -> bool:
        return self.orphan_line is None and not self.options and not self.after_blank


def _read_lines(lines: list[str]) -> Iterator[Outcome]:
    pending: _Pending | None = None
    row = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            if pending is not None:
                pending.after_blank = True
            continue
        if option := _OPTION.match(line):
            if pending is None:
                row += 1
                pending = _Pending(row, orphan_line=number)
            pending.labels.append(option.group(1))
            pending.options.append(plain_text(option.group(2)))
        elif answer := _ANSWER.match(line):
            if pending is None:
                row += 1
                yield ItemError(row, "stem", f"第 {number} 行的 ANSWER 前没有题目")
            else:
                yield _finish(pending, answer.group(1).strip(), number)
            pending = None
        elif pending is not None and pending.accepts_more_stem():
            pending.stem_lines.append(line)
        else:
            if pending is not None:
                yield _unfinished(pending, f"（第 {number} 行开始下一题之前）")
            row += 1
            pending = _Pending(row, stem_lines=[line])
    if pending is not None:
        yield _unfinished(pending, "（文件结束之前）")


def _unfinished(pending: _Pending, where: str) -> ItemError:
    if pending.orphan_line is not None:
        return _orphan(pending)
    if not pending.options:
        return ItemError(pending.row, "options", f"题目没有选项，也没有 ANSWER 行{where}")
    return ItemError(pending.row, "answer", f"题目没有 ANSWER 行{where}")


def _orphan(pending: _Pending) -> ItemError:
    return ItemError(pending.row, "stem", f"第 {pending.orphan_line} 行的选项前没有题干")


def _finish(pending: _Pending, answer: str, number: int) -> Outcome:
    if pending.orphan_line is not None:
        return _orphan(pending)
    letter = _ANSWER_LETTER.match(answer)
    if letter is None:
        return ItemError(pending.row, "answer", f"第 {number} 行的 ANSWER 应为一个选项字母，而不是 {answer!r}")
    label = letter.group(1).upper()
    if label not in pending.labels:
        return ItemError(pending.row, "answer", f"第 {number} 行的 ANSWER {label} 不对应任何选项")
    stem = plain_text("\n".join(pending.stem_lines))
    right = [pending.labels.index(label)]
    return choice_item(pending.row, stem, pending.options, right, multiple=False, extras=Extras())


# ---------------------------------------------------------------------------------------- writing


def write_aiken(items: Sequence[QuestionDict]) -> tuple[bytes, list[SkippedItem]]:
    """Write single and judge items as Aiken; return the file and the items Aiken cannot hold.

    Raises ValueError for an item that is not a valid exambank question.
    """
    blocks: list[str] = []
    skipped: list[SkippedItem] = []
    for row, item in enumerate(items, start=1):
        block = _block(item)
        if isinstance(block, SkippedItem):
            skipped.append(SkippedItem(row, block.reason))
        else:
            blocks.append(block)
    content = "\n\n".join(blocks) + "\n" if blocks else ""
    return content.encode("utf-8"), skipped


def _block(item: QuestionDict) -> str | SkippedItem:
    kind = item.get("type")
    if kind == "multiple":
        return _cannot("Aiken 格式每题只能有一个正确答案，多选题未导出")
    if kind == "judge":
        options = list(JUDGE_AS_CHOICE)
        right = 0 if judge_truth(item) else 1
    elif kind == "single":
        written = written_options(item)
        options = [one_line(option.text) for option in written]
        right = next(position for position, option in enumerate(written) if option.right)
    else:
        raise ValueError(f"Aiken 格式不能写入 {kind!r} 题")
    # Aiken keeps a question on one line, so line breaks inside the stem become spaces.
    stem = one_line(str(item["stem"]))
    if _OPTION.match(stem) or _ANSWER.match(stem):
        return _cannot("题干开头像 Aiken 的选项行或 ANSWER 行")
    lines = [stem, *(f"{OPTION_KEYS[i]}. {text}" for i, text in enumerate(options))]
    lines.append(f"ANSWER: {OPTION_KEYS[right]}")
    return "\n".join(lines)


def _cannot(reason: str) -> SkippedItem:
    # The row is filled in by the caller, which knows the item's position.
    return SkippedItem(0, reason)
