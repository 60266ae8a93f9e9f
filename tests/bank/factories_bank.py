"""Helpers for the bank's tests: spreadsheets built in memory and uploads through the API."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx2
import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.models import Question
from app.bank.sheet import HEADERS

CONTENT_KEYS = ("type", "category", "unit_code", "stem", "options", "answer", "difficulty", "knowledge_point",
                "explanation", "legal_basis", "tags")  # fmt: skip


def sheet_row(**cells: Any) -> dict[str, Any]:
    """One sheet row by header: ``sheet_row(题型="单选", 题干="…", 选项A="…", 答案="A")``."""
    return cells


def xlsx_bytes(rows: list[dict[str, Any]], headers: tuple[str, ...] = HEADERS) -> bytes:
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, {"in_memory": True}) as workbook:
        worksheet = workbook.add_worksheet()
        worksheet.write_row(0, 0, headers)
        for number, row in enumerate(rows, start=1):
            worksheet.write_row(number, 0, [row.get(h, "") for h in headers])
    return buffer.getvalue()


def csv_bytes(rows: list[dict[str, Any]], headers: tuple[str, ...] = HEADERS, encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows([row.get(h, "") for h in headers] for row in rows)
    return buffer.getvalue().encode(encoding)


def json_bytes(items: list[Any]) -> bytes:
    return json.dumps(items, ensure_ascii=False).encode()


async def upload(
    client: httpx2.AsyncClient, headers: dict[str, str], filename: str, content: bytes, **form: Any
) -> httpx2.Response:
    data = {k: str(v) for k, v in form.items() if v is not None}
    return await client.post("/api/questions/import", files={"file": (filename, content)}, data=data,
                             headers=headers)  # fmt: skip


async def count_questions(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Question)) or 0


def portable(item: dict[str, Any]) -> dict[str, Any]:
    """The content of an exported .json item, for comparing two banks."""
    return {key: item.get(key) for key in CONTENT_KEYS}
