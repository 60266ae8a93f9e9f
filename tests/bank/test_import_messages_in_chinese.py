"""What an editor reads when an upload is refused is Chinese: hostile and broken files of every format,
through the HTTP import, answer 422 with the file or row named, in Chinese only, and write nothing."""

from __future__ import annotations

import io
import re
import zipfile

import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.bank.factories_bank import count_questions, upload
from tests.factories import headers_for

# A run of English words (a library's error text) in a message; single names such as XML, QTI, ANSWER,
# imsmanifest.xml or <quiz> are what the editor sees in his own file and may stay.
ENGLISH_PHRASE = re.compile(r"[A-Za-z]{2,}(?:[ ,;:'()-]+[A-Za-z]{2,}){2,}")


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _encrypted(package: bytes) -> bytes:
    marked = bytearray(package)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = marked.find(signature)
        marked[start + offset] |= 0x1
    return bytes(marked)


MANIFEST = (
    b'<manifest identifier="m"><resources><resource type="imsqti_item_xmlv2p1" href="i.xml"/></resources></manifest>'
)

HOSTILE: dict[str, tuple[str, bytes]] = {
    "json-syntax": ("bank.json", b'[{"type": "single", "stem": '),
    "json-not-utf8": ("bank.json", '[{"stem": "宪法"}]'.encode("gb18030")),
    "xlsx-random-bytes": ("bank.xlsx", bytes(range(256)) * 64),
    "xlsx-zip-without-workbook": ("bank.xlsx", _zip({"xl/worksheets/sheet1.xml": b"<worksheet/>"})),
    "xlsx-bomb": ("bank.xlsx", _zip({"xl/worksheets/sheet1.xml": b"<a>" + b"0" * 120_000_000 + b"</a>"})),
    "csv-nul": ("bank.csv", '题型,题干\n单选,"宪法\x00\n'.encode()),
    "xml-broken": ("bank.xml", b"<quiz><question type='truefalse'>"),
    "xml-not-moodle": ("bank.xml", b"<html><body/></html>"),
    "xml-entities": ("bank.xml", b'<!DOCTYPE quiz [<!ENTITY a "aaaa">]><quiz>&a;</quiz>'),
    "qti-no-manifest": ("bank.zip", _zip({"item.xml": b"<assessmentItem/>"})),
    "qti-not-a-zip": ("bank.zip", b"PK\x03\x04 but not really a zip file"),
    "qti-bomb": ("bank.zip", _zip({"imsmanifest.xml": MANIFEST, "i.xml": b"0" * 30_000_000})),
    "qti-encrypted": ("bank.zip", _encrypted(_zip({"imsmanifest.xml": MANIFEST}, zipfile.ZIP_STORED))),
    "unknown-format": ("bank.docx", b"PK\x03\x04"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_a_refused_upload_is_explained_in_chinese_and_writes_nothing(
    client: httpx2.AsyncClient, session: AsyncSession, case: str
) -> None:
    filename, content = HOSTILE[case]
    headers = await headers_for(session, Role.bank_editor)
    before = await count_questions(session)

    response = await upload(client, headers, filename, content)

    assert response.status_code in (413, 422), response.text
    errors = response.json()["errors"]
    assert errors, response.text
    for error in errors:
        assert error["field"] and isinstance(error["row"], int)
        assert re.search(r"[\u4e00-\u9fff]", error["message"]), error
        assert not ENGLISH_PHRASE.search(error["message"]), error
    assert await count_questions(session) == before
