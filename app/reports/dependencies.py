"""Who may call the report routes at all; what each caller sees of one exam is decided by
``app.accounts.visibility``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.accounts.dependencies import CurrentPrincipal
from app.accounts.models import Role
from app.accounts.principal import Principal
from app.accounts.visibility import STAFF_ROLES
from app.core.errors import ForbiddenError

FULL_READERS = STAFF_ROLES


def sees_everything(principal: Principal) -> bool:
    return principal.has_any(*FULL_READERS)


async def report_reader(principal: CurrentPrincipal) -> Principal:
    if sees_everything(principal) or (Role.unit_admin in principal.roles and principal.unit_id is not None):
        return principal
    raise ForbiddenError("统计报告仅供督导、考务和单位管理员查看")


async def full_reader(principal: CurrentPrincipal) -> Principal:
    if sees_everything(principal):
        return principal
    raise ForbiddenError("此报告仅供督导和考务查看")


ReportReader = Annotated[Principal, Depends(report_reader)]
FullReader = Annotated[Principal, Depends(full_reader)]


def unit_scope(principal: Principal) -> set[int] | None:
    """Units whose practice and bank figures the caller may see (None = all)."""
    if sees_everything(principal):
        return None
    return {principal.unit_id} if principal.unit_id is not None else set()
