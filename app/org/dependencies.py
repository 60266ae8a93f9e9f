"""Access rules for units and rosters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.accounts.dependencies import CurrentPrincipal
from app.accounts.models import Role
from app.accounts.principal import Principal
from app.core.deps import SessionDep
from app.core.errors import ForbiddenError
from app.org import service
from app.org.models import Cadre

ROSTER_READERS = (Role.organiser, Role.supervisor, Role.proctor)
ROSTER_WRITERS = (Role.organiser,)


def ensure_roster_read(principal: Principal, unit_id: int) -> None:
    if not principal.can_manage_unit(unit_id, *ROSTER_READERS):
        raise ForbiddenError("只能查看本单位的名册")


def ensure_roster_write(principal: Principal, unit_id: int) -> None:
    if not principal.can_manage_unit(unit_id, *ROSTER_WRITERS):
        raise ForbiddenError("只能修改本单位的名册")


async def writable_cadre(cadre_id: int, principal: CurrentPrincipal, session: SessionDep) -> Cadre:
    cadre = await service.get_cadre(session, cadre_id)
    ensure_roster_write(principal, cadre.unit_id)
    return cadre


WritableCadre = Annotated[Cadre, Depends(writable_cadre)]
