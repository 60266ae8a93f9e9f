"""Hostile and broken uploads: empty files, garbage, XML entity tricks, zip bombs, path traversal."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest

from app.bank.interchange import _zip, read_interchange
from app.bank.interchange._common import FileRejected
from app.bank.interchange.aiken import read_aiken
from app.bank.interchange.base import InterchangeResult, ItemError
from app.bank.interchange.gift import read_gift
from app.bank.interchange.moodle_xml import read_moodle_xml
from app.bank.interchange.qti import read_qti, read_qti_package, write_qti3_item, write_qti3_package

Reader = Callable[[bytes], InterchangeResult]
ALL_READERS: list[Reader] = [read_moodle_xml, read_gift, read_aiken, read_qti, read_qti_package]
XML_READERS: list[Reader] = [read_moodle_xml, read_qti]

JUDGE = {"type": "judge", "stem": "宪法是国家的根本大法。", "answer": ["T"], "explanation": None}
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"


def file_error(result: InterchangeResult) -> str:
    """The one file-level error message; the result must hold nothing else."""
    assert result.items == [] and result.skipped == []
    assert len(result.errors) == 1
    error = result.errors[0]
    assert (error.row, error.field) == (0, "file")
    return error.message


@pytest.mark.parametrize("read", ALL_READERS, ids=lambda read: read.__name__)
@pytest.mark.parametrize("content", [b"", b"   \r\n\n  "], ids=["empty", "blank"])
def test_empty_file_is_one_file_error(read: Reader, content: bytes) -> None:
    message = file_error(read(content))

    assert "文件为空" in message or "zip" in message


@pytest.mark.parametrize("read", ALL_READERS, ids=lambda read: read.__name__)
def test_binary_garbage_is_one_file_error(read: Reader) -> None:
    file_error(read(BINARY))


@pytest.mark.parametrize("read", XML_READERS, ids=lambda read: read.__name__)
def test_malformed_xml_is_a_file_error(read: Reader) -> None:
    assert "不是格式正确的 XML" in file_error(read(b"<quiz><question type='truefalse'>"))


def test_xml_of_the_wrong_kind_is_a_file_error() -> None:
    assert "而不是 <quiz>" in file_error(read_moodle_xml(b"<html><body/></html>"))
    assert "不是 QTI 题目" in file_error(read_qti(b"<quiz/>"))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE quiz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<quiz><question type="truefalse"><questiontext><text>&lol3;</text></questiontext></question></quiz>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE quiz [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<quiz><question type="truefalse"><questiontext><text>&secret;</text></questiontext></question></quiz>
"""


@pytest.mark.parametrize("content", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["entity-expansion", "external"])
@pytest.mark.parametrize("read", XML_READERS, ids=lambda read: read.__name__)
def test_xml_entities_are_refused_not_expanded(read: Reader, content: bytes) -> None:
    message = file_error(read(content))

    assert "出于安全考虑已拒绝" in message
    assert "root:" not in message


def test_entity_expansion_is_refused_through_format_detection() -> None:
    result = read_interchange("quiz.xml", BILLION_LAUGHS)

    assert result is not None
    assert "出于安全考虑已拒绝" in file_error(result)


def test_entity_expansion_inside_a_package_item_is_an_item_error() -> None:
    package = _zip_of({"imsmanifest.xml": _manifest_for("item.xml"), "item.xml": BILLION_LAUGHS})

    result = read_qti_package(package)

    assert len(result.errors) == 1
    assert (result.errors[0].row, result.errors[0].field) == (1, "file")
    assert "出于安全考虑已拒绝" in result.errors[0].message


# -------------------------------------------------------------------------------------- zip files


def _zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _manifest_for(*hrefs: str) -> bytes:
    resources = "".join(
        f'<resource identifier="r{number}" type="imsqti_item_xmlv3p0" href="{href}"/>'
        for number, href in enumerate(hrefs)
    )
    return f'<manifest identifier="m"><resources>{resources}</resources></manifest>'.encode()


def test_not_a_zip_is_a_file_error() -> None:
    assert "无法读取的 zip 压缩包" in file_error(read_qti_package(b"PK\x03\x04 but not really a zip file"))


def test_zip_without_manifest_is_a_file_error() -> None:
    package = _zip_of({"item.xml": write_qti3_item(JUDGE)})

    assert "没有 imsmanifest.xml" in file_error(read_qti_package(package))


def test_manifest_without_item_resources_is_a_file_error() -> None:
    package = _zip_of({"imsmanifest.xml": b'<manifest identifier="m"><resources/></manifest>'})

    assert "清单中没有 QTI 题目" in file_error(read_qti_package(package))


@pytest.mark.parametrize("name", ["../evil.xml", "items/../../evil.xml", "/etc/evil.xml", "C:/evil.xml", "a\\..\\b"])
def test_archive_with_a_path_traversal_entry_is_refused(name: str) -> None:
    package = _zip_of({"imsmanifest.xml": _manifest_for("item.xml"), "item.xml": write_qti3_item(JUDGE), name: b"x"})

    assert "不安全的路径" in file_error(read_qti_package(package))


@pytest.mark.parametrize("href", ["../item.xml", "/item.xml", "http://example.com/item.xml", "a/../../item.xml"])
def test_manifest_href_leaving_the_package_is_an_item_error(href: str) -> None:
    package = _zip_of({"imsmanifest.xml": _manifest_for(href), "item.xml": write_qti3_item(JUDGE)})

    result = read_qti_package(package)

    assert result.items == []
    assert result.errors == [ItemError(1, "file", f"题目引用 {href!r} 指向题包之外")]


def test_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    bomb = _zip_of({"imsmanifest.xml": _manifest_for("item.xml"), "item.xml": b"\0" * (_zip.MAX_ENTRY_BYTES + 1)})
    assert len(bomb) < 100_000

    assert "item.xml 解压后超过" in file_error(read_qti_package(bomb))


def test_highly_compressed_entry_is_refused_as_a_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "_RATIO_CHECK_FLOOR", 1000)
    package = _zip_of({"imsmanifest.xml": _manifest_for("item.xml"), "item.xml": b" " * 500_000})

    assert "压缩炸弹" in file_error(read_qti_package(package))


def test_total_unpacked_size_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "MAX_TOTAL_BYTES", 2000)
    items = [{**JUDGE, "stem": f"题目{number}"} for number in range(5)]

    assert "压缩包解压后超过" in file_error(read_qti_package(write_qti3_package(items)))


def test_too_many_entries_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "MAX_ENTRIES", 3)
    items = [{**JUDGE, "stem": f"题目{number}"} for number in range(3)]

    assert "压缩包有 4 个文件" in file_error(read_qti_package(write_qti3_package(items)))


def test_oversized_archive_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "MAX_ARCHIVE_BYTES", 100)

    assert "压缩包超过" in file_error(read_qti_package(write_qti3_package([JUDGE])))


def test_reading_stops_at_the_limit_whatever_the_header_says(monkeypatch: pytest.MonkeyPatch) -> None:
    package = write_qti3_package([JUDGE])
    # Vetting has passed by the time members are read; a lower limit now stands in for a
    # header that under-reports the size.
    archive = _zip.SafeZip(package)
    monkeypatch.setattr(_zip, "MAX_ENTRY_BYTES", 10)

    with pytest.raises(FileRejected, match="解压后超过允许的大小"):
        archive.read("imsmanifest.xml")


def test_encrypted_entries_are_refused() -> None:
    package = bytearray(_zip_of({"imsmanifest.xml": _manifest_for("item.xml")}))
    # Set the "encrypted" flag bit in both the local header and the central directory entry.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = package.index(signature) + offset
        package[position] |= 0x1

    assert "已加密" in file_error(read_qti_package(bytes(package)))


# -------------------------------------------------------------------------------- text encodings


def test_gb18030_text_from_chinese_windows_is_read() -> None:
    content = "宪法是根本大法。{TRUE}\r\n".encode("gb18030")

    result = read_gift(content)

    assert [item.data["stem"] for item in result.items] == ["宪法是根本大法。"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_unicode_with_byte_order_mark_is_read(encoding: str) -> None:
    content = "下列哪项正确？\nA. 甲\nB. 乙\nANSWER: B\n".encode(encoding)

    result = read_aiken(content)

    assert [item.data["stem"] for item in result.items] == ["下列哪项正确？"]


def test_undecodable_bytes_are_a_file_error() -> None:
    assert "既不是 UTF-8 也不是 GB18030" in file_error(read_aiken(b"\xff\xff\xff\xff question"))
