"""Question interchange formats: Moodle XML, GIFT, Aiken and IMS QTI.

Pure functions only: readers turn a foreign file into item dicts (see ``base``), writers turn
exambank items into a file. Nothing here touches the database or the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from app.bank.interchange._common import FileRejected, decode_text
from app.bank.interchange.aiken import read_aiken, write_aiken
from app.bank.interchange.base import (
    ExportedFile,
    InterchangeResult,
    ItemError,
    ParsedItem,
    QuestionDict,
    SkippedItem,
)
from app.bank.interchange.gift import read_gift, write_gift
from app.bank.interchange.moodle_xml import read_moodle_xml, write_moodle_xml
from app.bank.interchange.qti import read_qti, read_qti_package, write_qti3_item, write_qti3_package

__all__ = [
    "EXPORT_FORMATS",
    "ExportedFile",
    "InterchangeResult",
    "ItemError",
    "ParsedItem",
    "SkippedItem",
    "export_interchange",
    "read_aiken",
    "read_gift",
    "read_interchange",
    "read_moodle_xml",
    "read_qti",
    "read_qti_package",
    "write_aiken",
    "write_gift",
    "write_moodle_xml",
    "write_qti3_item",
    "write_qti3_package",
]

_SNIFF_BYTES = 64 * 1024
_XML_PROLOG = re.compile(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>", re.DOTALL | re.IGNORECASE)
_XML_ROOT = re.compile(r"<\s*(?:[\w.-]+:)?([\w.-]+)")
_QTI_ROOTS = frozenset({"assessmentItem", "qti-assessment-item"})
_GIFT_ANSWERS = re.compile(r"(?<!\\)\{\s*(?:[=~#}]|(?:T|F|TRUE|FALSE)\s*[#}])")
_AIKEN_ANSWER = re.compile(r"^[ \t]*ANSWER\s*[:：]", re.MULTILINE)


def read_interchange(filename: str, content: bytes) -> InterchangeResult | None:
    """Read the file if it is Moodle XML, GIFT, Aiken or QTI; None when it is none of these."""
    name = filename.lower()
    # Moodle's own exports are named "….gift.txt" / "….aiken.txt", which settles the format.
    if name.endswith((".gift", ".gift.txt")):
        return read_gift(content)
    if name.endswith((".aiken", ".aiken.txt")):
        return read_aiken(content)
    if name.endswith(".txt"):
        return _read_text(content)
    if name.endswith(".xml"):
        return _read_xml(content)
    if name.endswith(".zip"):
        return read_qti_package(content)
    return None


def _read_xml(content: bytes) -> InterchangeResult | None:
    root = _xml_root_name(content)
    if root == "quiz":
        return read_moodle_xml(content)
    if root in _QTI_ROOTS:
        return read_qti(content)
    return None


def _xml_root_name(content: bytes) -> str | None:
    head = content[:_SNIFF_BYTES]
    encoding = "utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8"
    text = _XML_PROLOG.sub("", head.decode(encoding, errors="ignore"))
    match = _XML_ROOT.search(text)
    return match.group(1) if match else None


def _read_text(content: bytes) -> InterchangeResult | None:
    try:
        text = decode_text(content)
    except FileRejected:
        return None
    gift_blocks = len(_GIFT_ANSWERS.findall(text))
    aiken_answers = len(_AIKEN_ANSWER.findall(text))
    # Either sign can turn up by accident in the other format ("{}" in an Aiken stem, a GIFT
    # line starting "ANSWER:"), so when both appear the more frequent one decides.
    if gift_blocks and gift_blocks >= aiken_answers:
        return read_gift(content)
    if aiken_answers:
        return read_aiken(content)
    return None


# ---------------------------------------------------------------------------------------- export

_Writer = Callable[[Sequence[QuestionDict]], tuple[bytes, list[SkippedItem]]]
_EXPORTABLE_TYPES = frozenset({"single", "multiple", "judge"})


def _no_skips(write: Callable[[Sequence[QuestionDict]], bytes]) -> _Writer:
    return lambda items: (write(items), [])


EXPORT_FORMATS: dict[str, tuple[_Writer, str, str]] = {
    "moodle_xml": (_no_skips(write_moodle_xml), "application/xml", "questions.xml"),
    "gift": (_no_skips(write_gift), "text/plain; charset=utf-8", "questions.gift.txt"),
    "aiken": (write_aiken, "text/plain; charset=utf-8", "questions.aiken.txt"),
    "qti": (_no_skips(write_qti3_package), "application/zip", "questions-qti.zip"),
}


def export_interchange(fmt: str, items: list[QuestionDict]) -> ExportedFile:
    """Write items in ``fmt`` (moodle_xml, gift, aiken, qti); raises ValueError for another fmt."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"不支持的交换格式 {fmt!r}，可选：{'、'.join(EXPORT_FORMATS)}")
    write, media_type, filename = EXPORT_FORMATS[fmt]
    rows = [row for row, item in enumerate(items, start=1) if item.get("type") in _EXPORTABLE_TYPES]
    skipped = [
        SkippedItem(row, f"“{item.get('type')}”不是本系统的题型，未导出")
        for row, item in enumerate(items, start=1)
        if item.get("type") not in _EXPORTABLE_TYPES
    ]
    content, writer_skipped = write([items[row - 1] for row in rows])
    # The writer numbers the items it was given; map those back to positions in ``items``.
    skipped += [SkippedItem(rows[skip.row - 1], skip.reason) for skip in writer_skipped]
    return ExportedFile(content, media_type, filename, sorted(skipped, key=lambda skip: skip.row))
