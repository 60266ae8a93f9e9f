"""Paging of the list routes that can grow: one rule for `limit` and `offset`, one way to count and cut.

Routes the HTTP contract fixes as JSON lists (`GET /api/units`, `…/cadres`, `…/tickets`) keep their bare
list body (every row when no `limit` is given) and send the total in the `X-Total-Count` header; every
other growing list answers `{items, total}`. Either way the total is one SQL `count(*)` over the same
filtered query, and rows are cut in a deterministic order so pages never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, TypeVarTuple

from fastapi import Depends, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import field_error

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
TOTAL_COUNT_HEADER = "X-Total-Count"

ItemT = TypeVar("ItemT")
ColumnsT = TypeVarTuple("ColumnsT")


class Paged(BaseModel, Generic[ItemT]):
    """One page of a list and the number of rows the whole list has."""

    items: list[ItemT]
    total: int


@dataclass(frozen=True)
class Page:
    """Which rows to send: `limit` of them (None: all) from `offset` on."""

    limit: int | None
    offset: int = 0


EVERY_ROW = Page(limit=None)

_LIMIT_SCHEMA = {"minimum": 1, "maximum": MAX_LIMIT}
_OFFSET_SCHEMA = {"minimum": 0}
_LIMIT_HELP = f"每页条数，1 到 {MAX_LIMIT} (rows per page)"
_LIST_LIMIT_HELP = _LIMIT_HELP + "；不给则返回全部 (all rows when absent)"
_OFFSET_HELP = "跳过的条数，不小于 0 (rows to skip)"


def _checked(limit: int | None, offset: int) -> Page:
    # Checked here rather than by Query(ge=…, le=…) so the 422 names the field in Chinese.
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise RequestValidationError(field_error("limit", f"每页条数须在 1 到 {MAX_LIMIT} 之间", location="query"))
    if offset < 0:
        raise RequestValidationError(field_error("offset", "跳过的条数不能小于 0", location="query"))
    return Page(limit=limit, offset=offset)


def page_params(
    limit: Annotated[int, Query(description=_LIMIT_HELP, json_schema_extra=_LIMIT_SCHEMA)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(description=_OFFSET_HELP, json_schema_extra=_OFFSET_SCHEMA)] = 0,
) -> Page:
    """`limit` (default `DEFAULT_LIMIT`) and `offset` of a route answering `{items, total}`."""
    return _checked(limit, offset)


def list_page_params(
    limit: Annotated[int | None, Query(description=_LIST_LIMIT_HELP, json_schema_extra=_LIMIT_SCHEMA)] = None,
    offset: Annotated[int, Query(description=_OFFSET_HELP, json_schema_extra=_OFFSET_SCHEMA)] = 0,
) -> Page:
    """`limit` (default: every row) and `offset` of a route the contract fixes as a JSON list."""
    return _checked(limit, offset)


PageQuery = Annotated[Page, Depends(page_params)]
ListPageQuery = Annotated[Page, Depends(list_page_params)]

TOTAL_COUNT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            TOTAL_COUNT_HEADER: {
                "description": "列表的总条数，不受 limit/offset 影响 (rows in the whole list)",
                "schema": {"type": "integer"},
            }
        }
    }
}


async def count_rows(session: AsyncSession, query: Select[*ColumnsT]) -> int:
    """How many rows `query` selects: one `count(*)` in SQL, its order and paging dropped."""
    counted = query.order_by(None).limit(None).offset(None).subquery()
    return int(await session.scalar(select(func.count()).select_from(counted)) or 0)


def page_of(query: Select[*ColumnsT], page: Page) -> Select[*ColumnsT]:
    """`query` cut to `page`; the caller orders it by a unique key (id last) so pages never overlap."""
    if not query._order_by_clauses:
        raise ValueError("a paged query needs an order_by ending in a unique key")
    return query.limit(page.limit).offset(page.offset)


async def scalar_page(session: AsyncSession, query: Select[ItemT], page: Page) -> tuple[list[ItemT], int]:
    """The page's objects (`query` ordered by a unique key) and the total of the whole query."""
    total = await count_rows(session, query)
    items = list((await session.scalars(page_of(query, page))).all())
    return items, total


async def row_page(session: AsyncSession, query: Select[*ColumnsT], page: Page) -> tuple[list[Row[*ColumnsT]], int]:
    """The page's rows (`query` ordered by a unique key) and the total of the whole query."""
    total = await count_rows(session, query)
    rows = list((await session.execute(page_of(query, page))).all())
    return rows, total


def send_total(response: Response, total: int) -> None:
    """The whole list's size in `X-Total-Count`, for the routes whose body is a bare list."""
    response.headers[TOTAL_COUNT_HEADER] = str(total)
