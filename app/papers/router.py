"""Blueprints: define, preview, list, and the built-in presets."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.accounts.dependencies import CurrentPrincipal
from app.core.deps import ClockDep, SessionDep
from app.core.paging import Paged, PageQuery
from app.papers import service
from app.papers.schemas import BlueprintCreate, BlueprintPreview, BlueprintRead, BlueprintSpec, PresetRead

router = APIRouter(tags=["papers"])


@router.post("/api/blueprints", response_model=BlueprintRead, status_code=status.HTTP_201_CREATED)
async def create_blueprint(
    body: BlueprintCreate, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> BlueprintRead:
    """Create a blueprint (组卷规则): sections per type, category split, time limit."""
    blueprint = await service.create_blueprint(session, data=body, principal=principal, now=clock.now())
    return service.blueprint_read(blueprint)


@router.post("/api/blueprints/preview", response_model=BlueprintPreview)
async def preview_blueprint(body: BlueprintSpec, principal: CurrentPrincipal) -> BlueprintPreview:
    """The quotas a blueprint would have, with the rounding explained, without storing it."""
    service.ensure_blueprint_read(principal)
    return service.preview_blueprint(body)


@router.get("/api/blueprints", response_model=Paged[BlueprintRead])
async def list_blueprints(principal: CurrentPrincipal, session: SessionDep, page: PageQuery) -> Paged[BlueprintRead]:
    """The stored blueprints, oldest first, a page at a time: `{items, total}`."""
    service.ensure_blueprint_read(principal)
    blueprints, total = await service.list_blueprints(session, page=page)
    return Paged[BlueprintRead](items=[service.blueprint_read(b) for b in blueprints], total=total)


@router.get("/api/blueprints/presets", response_model=list[PresetRead])
async def list_presets(principal: CurrentPrincipal, session: SessionDep) -> list[PresetRead]:
    """The built-in presets (the “基本理论+” blueprint: 45 questions, 100 points, 1800 s)."""
    service.ensure_blueprint_read(principal)
    return await service.list_presets(session)


@router.post("/api/blueprints/presets/{key}", response_model=BlueprintRead)
async def use_preset(key: str, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> BlueprintRead:
    """The blueprint of a built-in preset, stored the first time it is asked for."""
    blueprint = await service.ensure_preset(session, key=key, principal=principal, now=clock.now())
    return service.blueprint_read(blueprint)


@router.get("/api/blueprints/{blueprint_id}", response_model=BlueprintRead)
async def get_blueprint(blueprint_id: int, principal: CurrentPrincipal, session: SessionDep) -> BlueprintRead:
    """One blueprint with its quotas."""
    service.ensure_blueprint_read(principal)
    return service.blueprint_read(await service.get_blueprint(session, blueprint_id))
