"""Units and their rosters of cadres."""

from __future__ import annotations

from collections.abc import Sequence

import anyio.to_thread
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.errors import ConflictError, ImportRejectedError, NotFoundError, UnprocessableError, field_error
from app.core.tabular import read_table
from app.org.models import Cadre, Rank, Unit, UnitDuty
from app.org.schemas import CadreCreate, CadreUpdate, UnitCreate, UnitUpdate

RANK_WORDS = {
    "厅级": Rank.ting, "厅": Rank.ting, "ting": Rank.ting,
    "处级": Rank.chu, "处": Rank.chu, "chu": Rank.chu,
    "科级": Rank.ke, "科": Rank.ke, "ke": Rank.ke,
}  # fmt: skip


async def create_unit(session: AsyncSession, *, data: UnitCreate, actor_id: int) -> Unit:
    """Add a unit; its code is unique."""
    if await session.scalar(select(Unit.id).where(Unit.code == data.code)) is not None:
        raise ConflictError(f"单位代码 {data.code} 已存在")
    unit = Unit(**data.model_dump())
    session.add(unit)
    await session.flush()
    await record_audit(
        session,
        actor_id=actor_id,
        action="unit.create",
        entity="unit",
        entity_id=unit.id,
        detail=data.model_dump(),
    )
    return unit


async def list_units(session: AsyncSession) -> Sequence[Unit]:
    return (await session.scalars(select(Unit).order_by(Unit.code))).all()


async def get_unit(session: AsyncSession, unit_id: int) -> Unit:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise NotFoundError(f"单位 {unit_id} 不存在")
    return unit


async def units_by_code(session: AsyncSession, codes: set[str]) -> dict[str, int]:
    """Map unit codes to ids, for imports that name units by code."""
    if not codes:
        return {}
    rows = await session.execute(select(Unit.code, Unit.id).where(Unit.code.in_(codes)))
    return {row.code: row.id for row in rows}


async def update_unit(session: AsyncSession, *, unit_id: int, data: UnitUpdate, actor_id: int) -> Unit:
    """Change a unit's name, headcount or size class."""
    unit = await get_unit(session, unit_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for name, value in changes.items():
        setattr(unit, name, value)
    await session.flush()
    await record_audit(
        session, actor_id=actor_id, action="unit.update", entity="unit", entity_id=unit.id, detail=changes
    )
    return unit


async def delete_unit(session: AsyncSession, *, unit_id: int, actor_id: int) -> None:
    """Delete a unit that nothing refers to (no cadres, questions, accounts or exams)."""
    unit = await get_unit(session, unit_id)
    if await session.scalar(select(func.count()).where(Cadre.unit_id == unit_id)):
        raise ConflictError("该单位名册中还有干部，请先移除")
    try:
        async with session.begin_nested():
            await session.execute(delete(Unit).where(Unit.id == unit_id))
    except IntegrityError as exc:
        raise ConflictError("该单位已有题目、账号或考试，不能删除") from exc
    await record_audit(
        session,
        actor_id=actor_id,
        action="unit.delete",
        entity="unit",
        entity_id=unit_id,
        detail={"code": unit.code},
    )


async def _employee_no_taken(session: AsyncSession, unit_id: int, employee_no: str, exclude_id: int | None) -> bool:
    query = select(Cadre.id).where(Cadre.unit_id == unit_id, Cadre.employee_no == employee_no)
    if exclude_id is not None:
        query = query.where(Cadre.id != exclude_id)
    return await session.scalar(query) is not None


async def create_cadre(session: AsyncSession, *, unit_id: int, data: CadreCreate, actor_id: int) -> Cadre:
    """Add a cadre to a unit's roster; ``employee_no`` is unique within the unit."""
    await get_unit(session, unit_id)
    employee_no = (data.employee_no or "").strip() or None
    if employee_no and await _employee_no_taken(session, unit_id, employee_no, None):
        raise ConflictError(f"本单位已有工号 {employee_no} 的干部")
    cadre = Cadre(unit_id=unit_id, name=data.name, rank=data.rank, employee_no=employee_no)
    session.add(cadre)
    await session.flush()
    await record_audit(
        session,
        actor_id=actor_id,
        action="cadre.create",
        entity="cadre",
        entity_id=cadre.id,
        detail={"unit_id": unit_id, "name": cadre.name, "rank": cadre.rank},
    )
    return cadre


async def list_cadres(
    session: AsyncSession, *, unit_id: int, rank: Rank | None = None, include_inactive: bool = False
) -> Sequence[Cadre]:
    await get_unit(session, unit_id)
    query = select(Cadre).where(Cadre.unit_id == unit_id)
    if rank is not None:
        query = query.where(Cadre.rank == rank)
    if not include_inactive:
        query = query.where(Cadre.is_active.is_(True))
    return (await session.scalars(query.order_by(Cadre.id))).all()


async def get_cadre(session: AsyncSession, cadre_id: int) -> Cadre:
    cadre = await session.get(Cadre, cadre_id)
    if cadre is None:
        raise NotFoundError(f"干部 {cadre_id} 不存在")
    return cadre


async def update_cadre(session: AsyncSession, *, cadre: Cadre, data: CadreUpdate, actor_id: int) -> Cadre:
    """Change a cadre's name, rank, number or active flag."""
    changes = data.model_dump(exclude_unset=True)
    if "employee_no" in changes:
        changes["employee_no"] = (changes["employee_no"] or "").strip() or None
        if changes["employee_no"] and await _employee_no_taken(
            session, cadre.unit_id, changes["employee_no"], cadre.id
        ):
            raise ConflictError(f"本单位已有工号 {changes['employee_no']} 的干部")
    for name, value in changes.items():
        if value is None and name in {"name", "rank", "is_active"}:
            raise UnprocessableError(field_error(name, "不能为空"))
        setattr(cadre, name, value)
    await session.flush()
    await record_audit(
        session,
        actor_id=actor_id,
        action="cadre.update",
        entity="cadre",
        entity_id=cadre.id,
        detail={k: str(v) for k, v in changes.items()},
    )
    return cadre


async def delete_cadre(session: AsyncSession, *, cadre: Cadre, actor_id: int) -> None:
    """Delete a cadre who never took part in an exam; otherwise deactivate him instead."""
    try:
        async with session.begin_nested():
            await session.execute(delete(Cadre).where(Cadre.id == cadre.id))
    except IntegrityError as exc:
        raise ConflictError("该干部已有考试记录，不能删除；请改为停用") from exc
    await record_audit(
        session,
        actor_id=actor_id,
        action="cadre.delete",
        entity="cadre",
        entity_id=cadre.id,
        detail={"unit_id": cadre.unit_id, "name": cadre.name},
    )


async def import_roster(
    session: AsyncSession, *, unit_id: int, filename: str, content: bytes, actor_id: int
) -> tuple[int, int]:
    """Import a roster sheet (姓名, 职级, 工号): all rows or none; rows with a known 工号 update that cadre."""
    await get_unit(session, unit_id)
    rows = await anyio.to_thread.run_sync(read_table, filename, content)
    errors: list[dict[str, object]] = []
    if not rows:
        raise ImportRejectedError([{"row": 0, "field": "file", "message": "文件中没有数据行"}])
    missing = [h for h in ("姓名", "职级") if h not in rows[0].values]
    if missing:
        raise ImportRejectedError([{"row": 1, "field": h, "message": f"缺少“{h}”列"} for h in missing])
    seen: dict[str, int] = {}
    parsed: list[tuple[str, Rank, str | None]] = []
    for row in rows:
        name = row.values.get("姓名", "").strip()
        rank_text = row.values.get("职级", "").strip()
        employee_no = row.values.get("工号", "").strip() or None
        if not name:
            errors.append({"row": row.row, "field": "姓名", "message": "姓名不能为空"})
        elif len(name) > 64:
            errors.append({"row": row.row, "field": "姓名", "message": "姓名超过 64 个字符"})
        rank = RANK_WORDS.get(rank_text) or RANK_WORDS.get(rank_text.lower())
        if rank is None:
            errors.append(
                {
                    "row": row.row,
                    "field": "职级",
                    "message": f"职级“{rank_text}”不是厅级、处级、科级之一",
                }
            )
        if employee_no is not None:
            if employee_no in seen:
                errors.append(
                    {
                        "row": row.row,
                        "field": "工号",
                        "message": f"工号 {employee_no} repeats row {seen[employee_no]}",
                    }
                )
            seen[employee_no] = row.row
        if rank is not None and name:
            parsed.append((name, rank, employee_no))
    if errors:
        raise ImportRejectedError(errors)
    existing = {
        c.employee_no: c
        for c in (
            await session.scalars(select(Cadre).where(Cadre.unit_id == unit_id, Cadre.employee_no.in_(list(seen))))
        ).all()
    }
    created = updated = 0
    for name, rank, employee_no in parsed:
        cadre = existing.get(employee_no) if employee_no else None
        if cadre is None:
            session.add(Cadre(unit_id=unit_id, name=name, rank=rank, employee_no=employee_no))
            created += 1
        else:
            cadre.name, cadre.rank, cadre.is_active = name, rank, True
            updated += 1
    await session.flush()
    await record_audit(
        session,
        actor_id=actor_id,
        action="cadre.import",
        entity="unit",
        entity_id=unit_id,
        detail={"filename": filename, "created": created, "updated": updated},
    )
    return created, updated


async def set_duties(session: AsyncSession, *, unit_id: int, knowledge_points: list[str], actor_id: int) -> list[str]:
    """Replace a unit's duty list (岗位职责清单) with the given knowledge points."""
    await get_unit(session, unit_id)
    points = list(dict.fromkeys(p.strip() for p in knowledge_points if p.strip()))
    await session.execute(delete(UnitDuty).where(UnitDuty.unit_id == unit_id))
    session.add_all(UnitDuty(unit_id=unit_id, knowledge_point=p) for p in points)
    await session.flush()
    await record_audit(
        session,
        actor_id=actor_id,
        action="unit.duties",
        entity="unit",
        entity_id=unit_id,
        detail={"count": len(points)},
    )
    return points


async def list_duties(session: AsyncSession, *, unit_id: int) -> list[str]:
    await get_unit(session, unit_id)
    return list(
        (
            await session.scalars(
                select(UnitDuty.knowledge_point).where(UnitDuty.unit_id == unit_id).order_by(UnitDuty.id)
            )
        ).all()
    )
