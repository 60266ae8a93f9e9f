from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Response, UploadFile, status

from app.accounts.dependencies import CurrentPrincipal, require_roles
from app.accounts.models import STAFF_ROLES, Role
from app.accounts.principal import Principal
from app.core.deps import SessionDep
from app.core.openapi import XLSX, file_responses
from app.core.paging import TOTAL_COUNT_RESPONSES, ListPageQuery, send_total
from app.core.tabular import read_upload
from app.org import service
from app.org.dependencies import WritableCadre, ensure_roster_read, ensure_roster_write
from app.org.models import Rank
from app.org.schemas import (
    CadreCreate,
    CadreRead,
    CadreUpdate,
    DutyList,
    RosterImportResult,
    UnitCreate,
    UnitRead,
    UnitUpdate,
)

router = APIRouter(tags=["units"])

UnitManager = Annotated[Principal, Depends(require_roles(Role.organiser))]
Staff = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]


@router.post("/api/units", response_model=UnitRead, status_code=status.HTTP_201_CREATED)
async def create_unit(body: UnitCreate, principal: UnitManager, session: SessionDep) -> UnitRead:
    """Create a unit with its code, name and headcount (机关干部总人数)."""
    return UnitRead.model_validate(await service.create_unit(session, data=body, actor_id=principal.id))


@router.get("/api/units", response_model=list[UnitRead], responses=TOTAL_COUNT_RESPONSES)
async def list_units(_principal: Staff, session: SessionDep, page: ListPageQuery, response: Response) -> list[UnitRead]:
    """The units by code (all of them, or a page with `limit`/`offset`); `X-Total-Count` gives their number."""
    units, total = await service.list_units(session, page=page)
    send_total(response, total)
    return [UnitRead.model_validate(u) for u in units]


@router.get("/api/units/{unit_id}", response_model=UnitRead)
async def get_unit(unit_id: int, _principal: Staff, session: SessionDep) -> UnitRead:
    """One unit."""
    return UnitRead.model_validate(await service.get_unit(session, unit_id))


@router.patch("/api/units/{unit_id}", response_model=UnitRead)
async def update_unit(unit_id: int, body: UnitUpdate, principal: UnitManager, session: SessionDep) -> UnitRead:
    """Change a unit's name, headcount or large flag."""
    unit = await service.update_unit(session, unit_id=unit_id, data=body, actor_id=principal.id)
    return UnitRead.model_validate(unit)


@router.delete("/api/units/{unit_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_unit(unit_id: int, principal: UnitManager, session: SessionDep) -> None:
    """Delete a unit that nothing refers to (no cadres, questions, accounts or exams)."""
    await service.delete_unit(session, unit_id=unit_id, actor_id=principal.id)


@router.post("/api/units/{unit_id}/cadres", response_model=CadreRead, status_code=status.HTTP_201_CREATED)
async def create_cadre(unit_id: int, body: CadreCreate, principal: CurrentPrincipal, session: SessionDep) -> CadreRead:
    """Add a cadre to the unit's roster."""
    ensure_roster_write(principal, unit_id)
    cadre = await service.create_cadre(session, unit_id=unit_id, data=body, actor_id=principal.id)
    return CadreRead.model_validate(cadre)


@router.get("/api/units/{unit_id}/cadres", response_model=list[CadreRead], responses=TOTAL_COUNT_RESPONSES)
async def list_cadres(
    unit_id: int,
    principal: CurrentPrincipal,
    session: SessionDep,
    page: ListPageQuery,
    response: Response,
    rank: Rank | None = None,
    include_inactive: bool = False,
) -> list[CadreRead]:
    """The unit's roster in id order (a unit admin sees his own unit): all of it, or a page with
    `limit`/`offset`; `X-Total-Count` gives the number of cadres the filters select."""
    ensure_roster_read(principal, unit_id)
    cadres, total = await service.list_cadres(
        session, unit_id=unit_id, rank=rank, include_inactive=include_inactive, page=page
    )
    send_total(response, total)
    return [CadreRead.model_validate(c) for c in cadres]


@router.post("/api/units/{unit_id}/cadres/import", response_model=RosterImportResult)
async def import_roster(
    unit_id: int, principal: CurrentPrincipal, session: SessionDep, file: Annotated[UploadFile, File()]
) -> RosterImportResult:
    """Import the unit's roster sheet (姓名, 职级, 工号): all rows or none; a known 工号 updates that cadre."""
    ensure_roster_write(principal, unit_id)
    content = await read_upload(file)
    created, updated = await service.import_roster(
        session, unit_id=unit_id, filename=file.filename or "", content=content, actor_id=principal.id
    )
    return RosterImportResult(created=created, updated=updated, errors=[])


@router.get(
    "/api/units/{unit_id}/cadres/template",
    response_class=Response,
    responses=file_responses(XLSX, description="the roster template as .xlsx"),
)
async def roster_template(unit_id: int, principal: CurrentPrincipal) -> Response:
    """The .xlsx template for the roster import beside it (姓名, 职务与职级, 工号, and the title table)."""
    ensure_roster_write(principal, unit_id)
    return Response(
        await service.roster_template(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="exambank-roster-template.xlsx"'},
    )


@router.patch("/api/cadres/{cadre_id}", response_model=CadreRead)
async def update_cadre(
    body: CadreUpdate, cadre: WritableCadre, principal: CurrentPrincipal, session: SessionDep
) -> CadreRead:
    """Change a cadre's name, rank, employee number or active flag."""
    return CadreRead.model_validate(await service.update_cadre(session, cadre=cadre, data=body, actor_id=principal.id))


@router.delete("/api/cadres/{cadre_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_cadre(cadre: WritableCadre, principal: CurrentPrincipal, session: SessionDep) -> None:
    """Delete a cadre who never took part in an exam (otherwise set him inactive)."""
    await service.delete_cadre(session, cadre=cadre, actor_id=principal.id)


@router.put("/api/units/{unit_id}/duties", response_model=DutyList)
async def set_duties(unit_id: int, body: DutyList, principal: CurrentPrincipal, session: SessionDep) -> DutyList:
    """Replace the unit's duty list (岗位职责清单) with these knowledge points."""
    ensure_roster_write(principal, unit_id)
    points = await service.set_duties(
        session, unit_id=unit_id, knowledge_points=body.knowledge_points, actor_id=principal.id
    )
    return DutyList(knowledge_points=points)


@router.get("/api/units/{unit_id}/duties", response_model=DutyList)
async def list_duties(unit_id: int, principal: CurrentPrincipal, session: SessionDep) -> DutyList:
    """The unit's duty list (岗位职责清单)."""
    ensure_roster_read(principal, unit_id)
    return DutyList(knowledge_points=await service.list_duties(session, unit_id=unit_id))
