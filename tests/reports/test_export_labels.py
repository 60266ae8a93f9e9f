"""The Excel export reads as the report does: Chinese labels, figures rounded half-up, Beijing time."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import httpx2
from python_calamine import CalamineWorkbook
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.core.labels import local_time_text
from app.exams.models import Attempt
from app.reports.exports import _rounded
from tests.factories import headers_for
from tests.reports.test_exports import build


def test_rounding_is_half_up_like_the_report() -> None:
    assert _rounded(5 / 6, percent=True) == 83.3
    assert _rounded(0.8335, percent=True) == 83.4  # 83.35 → 83.4, half up
    assert _rounded(0.125) == 0.13
    assert _rounded(None) is None


def test_local_time_is_beijing_time() -> None:
    assert local_time_text(datetime(2026, 12, 3, 17, 30, tzinfo=UTC)) == "2026-12-04 01:30:00"


async def test_item_sheet_and_times_are_in_chinese_and_rounded(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    ids = await build(session)
    submitted = datetime(2026, 12, 3, 1, 2, 3, tzinfo=UTC)
    await session.execute(update(Attempt).where(Attempt.exam_id == ids["exam"]).values(submitted_at=submitted))
    await session.commit()
    headers = await headers_for(session, Role.supervisor)
    response = await client.get(f"/api/exams/{ids['exam']}/report/export?format=xlsx", headers=headers)
    assert response.status_code == 200, response.text
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(response.content))

    items = workbook.get_sheet_by_name("试题分析").to_python()
    assert items[0][8] == "通过率(%)"
    assert [(row[4], row[5]) for row in items[1:]] == [("单选", "基本理论"), ("判断", "基础法律")]
    for row in items[1:]:
        for cell in row[8:11]:
            assert cell == "" or re.fullmatch(r"-?\d+(\.\d{1,2})?", repr(cell)), row
        assert not re.search(r"[a-z_]{4,}", str(row[11])), row  # flags are named in Chinese
    people = workbook.get_sheet_by_name("个人成绩").to_python()[1:]
    times = {row[5] for row in people}
    assert times == {"2026-12-03 09:02:03"}
    assert await session.scalar(select(Attempt.submitted_at).where(Attempt.exam_id == ids["exam"])) == submitted
