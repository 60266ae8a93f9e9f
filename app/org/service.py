"""Units and their rosters of cadres."""

from __future__ import annotations

from collections.abc import Sequence

import anyio.to_thread
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.errors import ConflictError, ImportRejectedError, NotFoundError, UnprocessableError, field_error
from app.core.paging import EVERY_ROW, Page, scalar_page
from app.core.tabular import SheetSpec, read_table, write_workbook
from app.org.models import RANK_LABELS, Cadre, Rank, Unit, UnitDuty
from app.org.schemas import CadreCreate, CadreUpdate, UnitCreate, UnitUpdate
from app.org.titles import MAX_TITLE_LENGTH, TITLE_HEADERS, normalise_title, rank_of_title, title_table


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


_UNITS_BY_CODE = select(Unit).order_by(Unit.code, Unit.id)


async def all_units(session: AsyncSession) -> Sequence[Unit]:
    """Every unit, by code."""
    return (await session.scalars(_UNITS_BY_CODE)).all()


async def list_units(session: AsyncSession, *, page: Page) -> tuple[list[Unit], int]:
    """A page of the units by code, with the number of units."""
    return await scalar_page(session, _UNITS_BY_CODE, page)


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
    title = normalise_title(data.title or "") or None
    if title is not None and (problem := title_problem(title, data.rank)) is not None:
        raise UnprocessableError(field_error("title", problem))
    cadre = Cadre(unit_id=unit_id, name=data.name, rank=data.rank, title=title, employee_no=employee_no)
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
    session: AsyncSession,
    *,
    unit_id: int,
    rank: Rank | None = None,
    include_inactive: bool = False,
    page: Page = EVERY_ROW,
) -> tuple[list[Cadre], int]:
    """A page of the unit's roster in id order, with the number of cadres the filters select."""
    await get_unit(session, unit_id)
    query = select(Cadre).where(Cadre.unit_id == unit_id)
    if rank is not None:
        query = query.where(Cadre.rank == rank)
    if not include_inactive:
        query = query.where(Cadre.is_active.is_(True))
    return await scalar_page(session, query.order_by(Cadre.id), page)


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
    if changes.get("title") is not None:
        changes["title"] = normalise_title(changes["title"]) or None
    title = changes.get("title", cadre.title)
    if title is not None and (problem := title_problem(title, changes.get("rank") or Rank(cadre.rank))) is not None:
        raise UnprocessableError(field_error("title", problem))
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


ROSTER_NAME, ROSTER_NUMBER = "姓名", "工号"


def title_problem(title: str, rank: Rank | None = None) -> str | None:
    """Why a title cannot stand on a cadre (unknown, too long, another rank than ``rank``), or None."""
    mapped = rank_of_title(title)
    if len(title) > MAX_TITLE_LENGTH:
        return f"职务与职级“{title[:MAX_TITLE_LENGTH]}…”超过 {MAX_TITLE_LENGTH} 个字"
    if mapped is None:
        return f"职务与职级“{title}”无法对应到厅级、处级或科级，请按导入模板“对照表”填写"
    if rank is not None and mapped != rank:
        return f"职务与职级“{title}”属于{RANK_LABELS[mapped]}，与所填职级不一致"
    return None


def _roster_row(values: dict[str, str], title_header: str, row: int) -> tuple[list[dict[str, object]], Cadre | None]:
    errors: list[dict[str, object]] = []
    name = values.get(ROSTER_NAME, "").strip()
    title = normalise_title(values.get(title_header, ""))
    if not name:
        errors.append({"row": row, "field": ROSTER_NAME, "message": "姓名不能为空"})
    elif len(name) > 64:
        errors.append({"row": row, "field": ROSTER_NAME, "message": "姓名超过 64 个字"})
    if not title:
        errors.append({"row": row, "field": title_header, "message": f"{title_header}不能为空"})
    elif (problem := title_problem(title)) is not None:
        errors.append({"row": row, "field": title_header, "message": problem})
    rank = rank_of_title(title) if title else None
    if errors or rank is None:
        return errors, None
    employee_no = values.get(ROSTER_NUMBER, "").strip() or None
    return [], Cadre(name=name, rank=rank, title=title, employee_no=employee_no)


async def import_roster(
    session: AsyncSession, *, unit_id: int, filename: str, content: bytes, actor_id: int
) -> tuple[int, int]:
    """Import a roster sheet (姓名, 职务与职级, 工号): all rows or none; rows with a known 工号 update that cadre."""
    await get_unit(session, unit_id)
    rows = await anyio.to_thread.run_sync(read_table, filename, content)
    if not rows:
        raise ImportRejectedError([{"row": 0, "field": "file", "message": "文件中没有数据行"}])
    title_header = next((h for h in TITLE_HEADERS if h in rows[0].values), None)
    missing = [{"row": 1, "field": ROSTER_NAME, "message": "缺少“姓名”列"}] if ROSTER_NAME not in rows[0].values else []
    if title_header is None:
        missing.append({"row": 1, "field": TITLE_HEADERS[0], "message": "缺少“职务与职级”列（也可写作“职级”）"})
    if missing or title_header is None:
        raise ImportRejectedError(missing)
    errors: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    parsed: list[Cadre] = []
    for row in rows:
        problems, cadre = _roster_row(row.values, title_header, row.row)
        errors += problems
        employee_no = row.values.get(ROSTER_NUMBER, "").strip() or None
        if employee_no is not None:
            if employee_no in seen:
                errors.append({"row": row.row, "field": ROSTER_NUMBER,
                               "message": f"工号 {employee_no} 与第 {seen[employee_no]} 行重复"})  # fmt: skip
            seen.setdefault(employee_no, row.row)
        if cadre is not None:
            parsed.append(cadre)
    if errors:
        raise ImportRejectedError(errors)
    existing = {
        c.employee_no: c
        for c in (
            await session.scalars(select(Cadre).where(Cadre.unit_id == unit_id, Cadre.employee_no.in_(list(seen))))
        ).all()
    }
    created = updated = 0
    for new in parsed:
        cadre = existing.get(new.employee_no) if new.employee_no else None
        if cadre is None:
            new.unit_id = unit_id
            session.add(new)
            created += 1
        else:
            cadre.name, cadre.rank, cadre.title, cadre.is_active = new.name, new.rank, new.title, True
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


ROSTER_EXAMPLES = (("张三", "一级巡视员", "0001"), ("李四", "副处级", "0002"), ("王五", "四级主任科员", "0003"))
ROSTER_GUIDE = (
    ("姓名", "必填。"),
    ("职务与职级", "必填，照人事档案填写，如 正处级、一级调研员、科员；也可直接写 厅级、处级、科级。"
                  "可填写的名称及其对应的厅级、处级、科级见“对照表”；表中没有的名称会被列为错误行。"),
    ("工号", "可选，本单位内不重复；与已有干部工号相同的行会更新该干部。"),
    ("导入规则", "整个文件要么全部导入，要么一行也不导入：任何一行有错，都会列出全部出错的行号、列和原因。"),
)  # fmt: skip


def roster_template_bytes() -> bytes:
    """The roster import template: the columns with examples, the title table, a guide (blocking)."""
    header = {"bold": True, "bg_color": "#DDEBF7", "border": 1}
    return write_workbook([
        SheetSpec("花名册", (ROSTER_NAME, TITLE_HEADERS[0], ROSTER_NUMBER), ROSTER_EXAMPLES,
                  widths={0: 14, 1: 20, 2: 14}, header_format=header, freeze_header=True),
        SheetSpec("对照表", ("职务与职级", "对应"), title_table(), widths={0: 20, 1: 10}, header_format=header),
        SheetSpec("填写说明", ("列", "说明"), ROSTER_GUIDE, widths={0: 14, 1: 90}, wrap=True, first_column_bold=True),
    ])  # fmt: skip


async def roster_template() -> bytes:
    """The roster import template, built off the event loop."""
    return await anyio.to_thread.run_sync(roster_template_bytes)


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
