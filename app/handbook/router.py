"""The unit handbook: sections, the .docx export and the coverage report 清单 → 手册 → 题库."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Response, status

from app.accounts.dependencies import CurrentPrincipal
from app.core.deps import ClockDep, SessionDep
from app.core.openapi import DOCX, file_responses
from app.handbook import service
from app.handbook.document import handbook_docx
from app.handbook.schemas import CoverageReport, HandbookRead, SectionCreate, SectionRead, SectionUpdate, UnitCoverage

router = APIRouter(tags=["handbook"])


@router.get("/api/units/{unit_id}/handbook", response_model=HandbookRead)
async def get_handbook(unit_id: int, principal: CurrentPrincipal, session: SessionDep) -> HandbookRead:
    """The unit's handbook: sections in order, each with its legal basis, duty items and questions."""
    service.ensure_handbook_read(principal, unit_id)
    return await service.get_handbook(session, unit_id=unit_id)


@router.post("/api/units/{unit_id}/handbook/sections", response_model=SectionRead, status_code=status.HTTP_201_CREATED)
async def create_section(
    unit_id: int, body: SectionCreate, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> SectionRead:
    """Add a section (the unit's admin only). Duty items must be on the unit's duty list; questions must be
    shared ones or the unit's own policy questions."""
    return await service.create_section(session, unit_id=unit_id, data=body, principal=principal, now=clock.now())


@router.patch("/api/units/{unit_id}/handbook/sections/{section_id}", response_model=SectionRead)
async def update_section(
    unit_id: int,
    section_id: int,
    body: SectionUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
) -> SectionRead:
    """Change a section; ``duty_points`` and ``question_ids``, when sent, replace the old links."""
    return await service.update_section(
        session, unit_id=unit_id, section_id=section_id, data=body, principal=principal, now=clock.now()
    )


@router.delete("/api/units/{unit_id}/handbook/sections/{section_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_section(
    unit_id: int, section_id: int, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> None:
    """Remove a section and its links."""
    await service.delete_section(session, unit_id=unit_id, section_id=section_id, principal=principal, now=clock.now())


@router.get("/api/units/{unit_id}/handbook/coverage", response_model=UnitCoverage)
async def unit_coverage(unit_id: int, principal: CurrentPrincipal, session: SessionDep) -> UnitCoverage:
    """The unit's chain 清单 → 手册 → 题库 with the gaps named."""
    service.ensure_handbook_read(principal, unit_id)
    return await service.unit_coverage(session, unit_id=unit_id)


@router.get("/api/handbooks/coverage", response_model=CoverageReport)
async def coverage(principal: CurrentPrincipal, session: SessionDep, unit_id: int | None = None) -> CoverageReport:
    """Every unit's chain 清单 → 手册 → 题库 (a unit admin sees his own unit)."""
    return await service.coverage_report(session, service.readable_units(principal, unit_id))


@router.get(
    "/api/units/{unit_id}/handbook/export",
    response_class=Response,
    responses=file_responses(DOCX, description="the handbook as .docx"),
)
async def export_handbook(unit_id: int, principal: CurrentPrincipal, session: SessionDep) -> Response:
    """The handbook as a Word document (.docx), with each section's coverage and the gaps at the end."""
    service.ensure_handbook_read(principal, unit_id)
    handbook = await service.get_handbook(session, unit_id=unit_id)
    content = await handbook_docx(handbook, await service.unit_coverage(session, unit_id=unit_id))
    filename = quote(f"{handbook.unit_name}岗位履职手册.docx")
    return Response(
        content,
        media_type=DOCX,
        headers={
            "Content-Disposition": f"attachment; filename=unit-{unit_id}-handbook.docx; filename*=UTF-8''{filename}",
        },
    )
