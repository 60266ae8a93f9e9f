"""Write then read gives back the same questions, for every format, on generated Chinese text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.bank.interchange import export_interchange, read_interchange
from app.bank.interchange.aiken import read_aiken, write_aiken
from app.bank.interchange.base import InterchangeResult
from app.bank.interchange.gift import read_gift, write_gift
from app.bank.interchange.moodle_xml import read_moodle_xml, write_moodle_xml
from app.bank.interchange.qti import read_qti, read_qti_package, write_qti3_item, write_qti3_package

Item = dict[str, Any]

# Characters that mean something in one of the formats, next to ordinary Chinese text.
SPECIALS = "=~#{}:<>&;%[]-/\\"
PUNCTUATION = "，。？！、；：（）《》“”0123456789abcxyz"
KEYS = "ABCDEFGH"

# Words hold no whitespace and lines join words with single spaces: readers normalise spacing,
# so only already-normal text can survive a round trip unchanged.
word = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(SPECIALS),
        st.sampled_from(PUNCTUATION),
    ),
    min_size=1,
    max_size=8,
)
line = st.lists(word, min_size=1, max_size=4).map(" ".join)
paragraph = st.lists(line, min_size=1, max_size=3).map("\n".join)


@st.composite
def questions(draw: st.DrawFn, text: st.SearchStrategy[str] = paragraph) -> Item:
    kind = draw(st.sampled_from(["single", "multiple", "judge"]))
    item: Item = {
        "id": draw(st.integers(min_value=1, max_value=10**6)),
        "type": kind,
        "stem": draw(text),
        "explanation": draw(st.none() | text),
        "tags": draw(st.lists(line, max_size=2)),
        "knowledge_point": draw(st.none() | st.sampled_from(["基本理论", "基础法律/宪法", "部门政策业务"])),
        "category": "law",
        "difficulty": 3,
        "unit_code": None,
        "legal_basis": None,
    }
    if kind == "judge":
        item["answer"] = [draw(st.sampled_from(["T", "F"]))]
        return item
    texts = draw(st.lists(line, min_size=2, max_size=8).filter(lambda found: found != ["正确", "错误"]))
    keys = KEYS[: len(texts)]
    item["options"] = [{"key": key, "text": option} for key, option in zip(keys, texts, strict=True)]
    minimum = 1 if kind == "single" else 2
    maximum = 1 if kind == "single" else len(keys)
    item["answer"] = sorted(draw(st.lists(st.sampled_from(keys), min_size=minimum, max_size=maximum, unique=True)))
    return item


def essentials(item: Item, *, with_explanation: bool = True) -> tuple[Any, ...]:
    return (
        item["type"],
        item["stem"],
        [option["text"] for option in item.get("options", [])],
        item["answer"],
        item.get("explanation") if with_explanation else None,
    )


def assert_round_trip(written: Sequence[Item], result: InterchangeResult) -> None:
    assert result.errors == []
    assert result.skipped == []
    assert [essentials(item) for item in written] == [essentials(parsed.data) for parsed in result.items]
    assert [parsed.row for parsed in result.items] == list(range(1, len(written) + 1))


def with_crlf(content: bytes) -> bytes:
    return content.replace(b"\n", b"\r\n")


ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
batches = st.lists(questions(), min_size=1, max_size=6)
crlf = st.booleans()


@ROUND_TRIP
@given(items=batches, use_crlf=crlf)
def test_moodle_xml_round_trip(items: list[Item], use_crlf: bool) -> None:
    content = write_moodle_xml(items)

    result = read_moodle_xml(with_crlf(content) if use_crlf else content)

    assert_round_trip(items, result)
    assert [parsed.data["knowledge_point"] for parsed in result.items] == [item["knowledge_point"] for item in items]


@ROUND_TRIP
@given(items=batches, use_crlf=crlf)
def test_gift_round_trip(items: list[Item], use_crlf: bool) -> None:
    content = write_gift(items)

    result = read_gift(with_crlf(content) if use_crlf else content)

    assert_round_trip(items, result)
    # GIFT carries tags in "// [tag:…]" comments (so a tag with "]" cannot be written); the
    # category path comes back as a tag too.
    for item, parsed in zip(items, result.items, strict=True):
        assert parsed.data["knowledge_point"] == item["knowledge_point"]
        assert {tag for tag in item["tags"] if "]" not in tag} <= set(parsed.data["tags"])


@ROUND_TRIP
@given(items=st.lists(questions(text=line), min_size=1, max_size=6), use_crlf=crlf)
def test_aiken_round_trip_keeps_single_and_judge_and_skips_multiple(items: list[Item], use_crlf: bool) -> None:
    content, skipped = write_aiken(items)
    kept = [item for item in items if item["type"] != "multiple"]
    assume(kept)  # with nothing to write the file is empty, which the edge-case tests cover

    result = read_aiken(with_crlf(content) if use_crlf else content)

    assert [skip.row for skip in skipped] == [row for row, item in enumerate(items, 1) if item["type"] == "multiple"]
    assert result.errors == [] and result.skipped == []
    # Aiken has no explanation field.
    assert [essentials(item, with_explanation=False) for item in kept] == [
        essentials(parsed.data, with_explanation=False) for parsed in result.items
    ]


@ROUND_TRIP
@given(item=questions())
def test_qti3_item_round_trip(item: Item) -> None:
    result = read_qti(write_qti3_item(item))

    assert_round_trip([item], result)


@ROUND_TRIP
@given(items=batches)
def test_qti3_package_round_trip(items: list[Item]) -> None:
    result = read_qti_package(write_qti3_package(items))

    assert_round_trip(items, result)


FORMATS: dict[str, Callable[[Item], bool]] = {
    "moodle_xml": lambda item: True,
    "gift": lambda item: True,
    "qti": lambda item: True,
    "aiken": lambda item: item["type"] != "multiple",
}


@ROUND_TRIP
@given(items=st.lists(questions(text=line), min_size=1, max_size=5), fmt=st.sampled_from(sorted(FORMATS)))
def test_export_then_detect_round_trip(items: list[Item], fmt: str) -> None:
    exported = export_interchange(fmt, items)

    kept = [item for item in items if FORMATS[fmt](item)]
    assume(kept)

    result = read_interchange(exported.filename, exported.content)

    assert result is not None
    carries_explanation = fmt != "aiken"
    assert [essentials(item, with_explanation=carries_explanation) for item in kept] == [
        essentials(parsed.data, with_explanation=carries_explanation) for parsed in result.items
    ]
