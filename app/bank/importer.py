"""Importing questions from .xlsx, .csv, .json and the interchange formats: every row, or none.

Duplicates (see ``duplicates``): a row whose stem and options equal a bank question of its pool updates that
question — a new version when its content differs, else it counts as unchanged — and fields the row does not
state keep the bank's value. A row equal to an earlier row of the same file is an error. Near duplicates are
only reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import Any, cast

import anyio.to_thread
from sqlalchemy import Table, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.bank import sheet
from app.bank.duplicates import Match, Pool, StemEntry, find_duplicates, stem_entry
from app.bank.interchange import read_interchange
from app.bank.models import Category, Question, QuestionStatus, QuestionTag, QuestionType, QuestionVersion
from app.bank.normalise import CleanQuestion, normalise_question, parse_category, parse_type
from app.bank.schemas import ImportDuplicate, ImportResult, ImportRowError, ImportSkipped
from app.bank.service import CONTENT_FIELDS, may_edit, question_row
from app.core.audit import record_audit
from app.core.errors import ForbiddenError, ImportRejectedError, UnprocessableError
from app.core.tabular import MAX_UPLOAD_BYTES, read_table
from app.org import service as org_service

SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods", ".csv"})
UNSUPPORTED_TYPE_WORDS = frozenset({
    "填空", "填空题", "简答", "简答题", "问答", "问答题", "论述", "论述题", "案例", "案例题", "案例分析", "案例分析题",
    "计算", "计算题", "排序", "排序题", "匹配", "匹配题", "essay", "fill", "blank", "cloze", "shortanswer",
    "short_answer", "matching", "numerical", "ordering",
})  # fmt: skip
# Fields a row may empty on purpose; other fields left blank keep the bank's value when a row updates.
CLEARABLE_FIELDS = frozenset({"knowledge_point", "explanation", "legal_basis", "tags"})
# The command line acts as this administrator; id 0 has no user row, so it is recorded as no actor.
SYSTEM_PRINCIPAL = Principal(id=0, username="system", roles=frozenset({Role.admin}), unit_id=None, session_digest="")
_CHUNK = 5000
# Bulk writes go through Core: the ORM would regroup rows by which values are None.
_QUESTIONS = cast(Table, Question.__table__)
_VERSIONS = cast(Table, QuestionVersion.__table__)
_TAGS = cast(Table, QuestionTag.__table__)

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ImportDefaults:
    """Values for items that state none (interchange formats carry no category, unit or difficulty)."""

    category: Category | None = None
    unit_code: str | None = None
    difficulty: int | None = None


@dataclass(slots=True)
class SourceItem:
    """One question as the file states it, and with the defaults applied."""

    row: int
    stated: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SourceFile:
    items: list[SourceItem] = field(default_factory=list)
    skipped: list[ImportSkipped] = field(default_factory=list)
    errors: list[ImportRowError] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # Errors name the sheet's columns (答案, 选项B) for spreadsheets, the JSON fields otherwise.
    label: Callable[[str], str] = str


@dataclass(slots=True)
class Candidate:
    row: int
    stated: dict[str, Any]
    clean: CleanQuestion


@dataclass(frozen=True, slots=True)
class BankQuestion:
    id: int
    version: int
    content: dict[str, Any]


@dataclass(slots=True)
class ImportPlan:
    creates: list[CleanQuestion] = field(default_factory=list)
    updates: list[tuple[BankQuestion, CleanQuestion]] = field(default_factory=list)
    unchanged: int = 0
    errors: list[ImportRowError] = field(default_factory=list)
    duplicates: list[ImportDuplicate] = field(default_factory=list)


def actor_id_of(principal: Principal) -> int | None:
    return principal.id or None


def ensure_can_import(principal: Principal) -> None:
    if not (principal.has_any(Role.bank_editor) or Role.unit_admin in principal.roles):
        raise ForbiddenError("只有题库管理员和单位管理员可以导入题目")


async def import_questions(
    session: AsyncSession, *, filename: str, content: bytes, defaults: ImportDefaults, principal: Principal,
    now: datetime, progress: Progress | None = None,
) -> ImportResult:
    """Validate a whole file and store it; on any bad row store nothing and raise ``ImportRejectedError``."""
    ensure_can_import(principal)
    step = progress or (lambda _stage: None)
    step("parse")
    source = await anyio.to_thread.run_sync(read_source, filename, content, defaults)
    step("validate")
    plan = await plan_import(session, source, principal)
    if plan.errors:
        raise ImportRejectedError(
            [e.model_dump() for e in plan.errors],
            skipped=[s.model_dump() for s in source.skipped],
            duplicates=[d.model_dump(exclude_none=True) for d in plan.duplicates],
        )
    step("write")
    await write_plan(session, plan, actor_id=actor_id_of(principal), now=now, note=f"imported from {filename}"[:255])
    result = ImportResult(created=len(plan.creates), updated=len(plan.updates), unchanged=plan.unchanged,
                          skipped=source.skipped, duplicates=plan.duplicates, warnings=source.warnings)
    await _audit(session, result, filename=filename, actor_id=actor_id_of(principal), now=now)
    return result


# ---------------------------------------------------------------------------------------------- reading


def read_source(filename: str, content: bytes, defaults: ImportDefaults) -> SourceFile:
    """The items of an upload with the defaults applied (blocking: run it in a worker thread)."""
    suffix = PurePath(filename).suffix.lower()
    if len(content) > MAX_UPLOAD_BYTES:
        return SourceFile(errors=[_file_error(f"文件超过 {MAX_UPLOAD_BYTES // 2**20} MB")])
    if suffix in SPREADSHEET_SUFFIXES:
        source = _read_sheet(filename, content)
    elif suffix == ".json":
        source = _read_json(content)
    else:
        source = _read_interchange(filename, content)
    for item in source.items:
        item.data = with_defaults(item.stated, defaults)
    if not source.items and not source.skipped and not source.errors:
        source.errors.append(_file_error("文件中没有题目"))
    return source


def _file_error(message: str) -> ImportRowError:
    return ImportRowError(row=0, field="file", message=message)


def _read_sheet(filename: str, content: bytes) -> SourceFile:
    try:
        rows = read_table(filename, content)
    except UnprocessableError as exc:
        return SourceFile(errors=[ImportRowError(**e) for e in exc.detail])
    source = SourceFile(label=sheet.column_label)
    missing = [h for h in sheet.REQUIRED_HEADERS if rows and h not in rows[0].values]
    if missing:
        source.errors += [ImportRowError(row=1, field=h, message=f"缺少“{h}”列") for h in missing]
        return source
    for row in rows:
        _add_item(source, row.row, sheet.item_from_cells(row.values))
    return source


def _read_json(content: bytes) -> SourceFile:
    try:
        payload = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return SourceFile(errors=[_file_error(f"无法读取的 JSON 文件：{exc}")])
    if not isinstance(payload, list):
        return SourceFile(errors=[_file_error(".json 文件应为题目对象的列表")])
    source = SourceFile()
    for row, raw in enumerate(payload, start=1):
        if isinstance(raw, dict):
            _add_item(source, row, raw)
        else:
            source.errors.append(ImportRowError(row=row, field="item", message="每一项应为一个题目对象"))
    return source


def _read_interchange(filename: str, content: bytes) -> SourceFile:
    result = read_interchange(filename, content)
    if result is None:
        message = (f"unsupported format {PurePath(filename).suffix or filename!r}: use .xlsx, .csv, .json, "
                   "Moodle XML, GIFT, Aiken or QTI")  # fmt: skip
        return SourceFile(errors=[_file_error(message)])
    source = SourceFile(
        skipped=[ImportSkipped(row=s.row, reason=s.reason) for s in result.skipped],
        errors=[ImportRowError(row=e.row, field=e.field, message=e.message) for e in result.errors],
    )
    for parsed in result.items:
        data = dict(parsed.data)
        source.warnings += [{"row": parsed.row, "message": w} for w in data.pop("warnings", [])]
        _add_item(source, parsed.row, data)
    return source


def _add_item(source: SourceFile, row: int, stated: dict[str, Any]) -> None:
    type_word = str(stated.get("type") or "").strip()
    if parse_type(type_word) is None and type_word.lower() in UNSUPPORTED_TYPE_WORDS:
        source.skipped.append(ImportSkipped(row=row, reason=f"不支持“{type_word}”题型"
                                                            "（本系统只有单选、多选和判断题）"))
    else:
        source.items.append(SourceItem(row=row, stated=stated))


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def with_defaults(stated: dict[str, Any], defaults: ImportDefaults) -> dict[str, Any]:
    """The item with the form's defaults for what it leaves blank (a unit only for policy items)."""
    data = dict(stated)
    if _blank(data.get("category")) and defaults.category is not None:
        data["category"] = str(defaults.category)
    if _blank(data.get("difficulty")) and defaults.difficulty is not None:
        data["difficulty"] = defaults.difficulty
    policy = parse_category(data.get("category")) == Category.policy
    if policy and defaults.unit_code and _blank(data.get("unit_code")) and data.get("unit_id") is None:
        data["unit_code"] = defaults.unit_code
    return data


# --------------------------------------------------------------------------------------------- planning


async def plan_import(session: AsyncSession, source: SourceFile, principal: Principal) -> ImportPlan:
    """Check every item (values, units, permissions, duplicates) and decide what to create and update."""
    candidates, errors = await anyio.to_thread.run_sync(validate_items, source)
    errors += await _resolve_units(session, candidates, source.label)
    errors += _permission_errors(candidates, principal, source.label)
    failed = {e.row for e in errors}
    candidates = [c for c in candidates if c.row not in failed]
    bank = await _load_bank(session, {_pool(c.clean) for c in candidates})
    matches = await anyio.to_thread.run_sync(find_duplicates, _entries(candidates), _bank_entries(bank.values()))
    plan = ImportPlan(errors=[*source.errors, *errors], duplicates=[_duplicate(m) for m in matches])
    _decide(plan, candidates, bank, matches, source.label)
    plan.errors.sort(key=lambda e: (e.row, e.field))
    return plan


def validate_items(source: SourceFile) -> tuple[list[Candidate], list[ImportRowError]]:
    """Normalise every item; the clean ones, and every problem of the others by row."""
    candidates: list[Candidate] = []
    errors: list[ImportRowError] = []
    for item in source.items:
        clean, problems = normalise_question(item.data)
        if clean is None:
            errors += [ImportRowError(row=item.row, field=source.label(f), message=m) for f, m in problems]
        else:
            candidates.append(Candidate(row=item.row, stated=item.stated, clean=clean))
    return candidates, errors


async def _resolve_units(
    session: AsyncSession, candidates: list[Candidate], label: Callable[[str], str]
) -> list[ImportRowError]:
    # Units are few (one per provincial department), so one query answers every code and id in the file.
    units = await org_service.list_units(session)
    ids_by_code, known_ids = {unit.code: unit.id for unit in units}, {unit.id for unit in units}
    errors = []
    for candidate in candidates:
        clean = candidate.clean
        if clean.unit_id is not None and clean.unit_id not in known_ids:
            errors.append(ImportRowError(row=candidate.row, field=label("unit_id"),
                                         message=f"单位 {clean.unit_id} 不存在"))
        elif clean.unit_id is None and clean.unit_code is not None:
            clean.unit_id = ids_by_code.get(clean.unit_code)
            if clean.unit_id is None:
                errors.append(ImportRowError(row=candidate.row, field=label("unit_code"),
                                             message=f"单位代码 {clean.unit_code} 不存在"))
    return errors


def _permission_errors(
    candidates: list[Candidate], principal: Principal, label: Callable[[str], str]
) -> list[ImportRowError]:
    errors = []
    for candidate in candidates:
        clean = candidate.clean
        if may_edit(principal, clean.category, clean.unit_id):
            continue
        if clean.category == Category.policy:
            message = "无权导入：单位管理员只能导入本单位的部门政策题"
            errors.append(ImportRowError(row=candidate.row, field=label("unit_code"), message=message))
        else:
            message = "无权导入：只有题库管理员可以导入基本理论和基础法律题"
            errors.append(ImportRowError(row=candidate.row, field=label("category"), message=message))
    return errors


def _pool(clean: CleanQuestion) -> Pool:
    return str(clean.type), str(clean.category), clean.unit_id


def _option_texts(question_type: str, options: Sequence[dict[str, str]]) -> list[str]:
    # A judge question's options are always 正确/错误: its stem alone says what it is.
    return [] if question_type == QuestionType.judge else [o["text"] for o in options]


def _entries(candidates: list[Candidate]) -> list[StemEntry]:
    return [
        stem_entry(c.row, _pool(c.clean), c.clean.stem, _option_texts(c.clean.type, c.clean.options))
        for c in candidates
    ]


def _bank_entries(bank: Iterable[BankQuestion]) -> list[StemEntry]:
    return [
        stem_entry(q.id, (q.content["type"], q.content["category"], q.content["unit_id"]), q.content["stem"],
                   _option_texts(q.content["type"], q.content["options"]))
        for q in bank
    ]  # fmt: skip


async def _load_bank(session: AsyncSession, pools: set[Pool]) -> dict[int, BankQuestion]:
    if not pools:
        return {}
    in_pools = or_(*(
        and_(Question.type == kind, Question.category == category,
             Question.unit_id.is_(None) if unit_id is None else Question.unit_id == unit_id)
        for kind, category, unit_id in pools
    ))  # fmt: skip
    columns = [getattr(Question, name) for name in CONTENT_FIELDS]
    rows = await session.execute(select(Question.id, Question.version, *columns).where(in_pools))
    return {
        row.id: BankQuestion(row.id, row.version, {name: getattr(row, name) for name in CONTENT_FIELDS})
        for row in rows
    }


def _duplicate(match: Match) -> ImportDuplicate:
    return ImportDuplicate(row=match.row, kind=match.kind, similar_to_row=match.similar_to_row,
                           question_id=match.question_id, score=match.score)


def _decide(
    plan: ImportPlan, candidates: list[Candidate], bank: dict[int, BankQuestion], matches: list[Match],
    label: Callable[[str], str],
) -> None:
    exact = [m for m in matches if m.kind == "exact"]
    repeated = {m.row: m.similar_to_row for m in exact if m.similar_to_row is not None}
    existing = {m.row: m.question_id for m in exact if m.question_id is not None}
    for candidate in candidates:
        if candidate.row in repeated:
            plan.errors.append(ImportRowError(row=candidate.row, field=label("stem"),
                                              message=f"与第 {repeated[candidate.row]} 行是同一道题"))
        elif candidate.row in existing:
            _plan_update(plan, candidate, bank[existing[candidate.row]], label)
        else:
            plan.creates.append(candidate.clean)


def _plan_update(plan: ImportPlan, candidate: Candidate, question: BankQuestion, label: Callable[[str], str]) -> None:
    stated = {k: v for k, v in candidate.stated.items() if k in CLEARABLE_FIELDS or not _blank(v)}
    merged = {**question.content, **stated, "unit_id": question.content["unit_id"]}
    merged.pop("unit_code", None)
    clean, problems = normalise_question(merged)
    if clean is None:
        plan.errors += [ImportRowError(row=candidate.row, field=label(f), message=m) for f, m in problems]
    elif clean.content() == question.content:
        plan.unchanged += 1
    else:
        plan.updates.append((question, clean))


# ---------------------------------------------------------------------------------------------- writing


async def write_plan(
    session: AsyncSession, plan: ImportPlan, *, actor_id: int | None, now: datetime, note: str
) -> None:
    """Store the planned questions with bulk statements: questions, versions, tags, then current versions."""
    if plan.creates:
        await _insert_questions(session, plan.creates, actor_id=actor_id, now=now, note=note)
    if plan.updates:
        await _update_questions(session, plan.updates, actor_id=actor_id, now=now, note=note)


async def _insert_questions(
    session: AsyncSession, cleans: list[CleanQuestion], *, actor_id: int | None, now: datetime, note: str
) -> None:
    # SQLite batches only an unordered RETURNING, so each row carries a negative placeholder in
    # current_version_id (overwritten below) that tells which new id belongs to which question.
    rows = [
        {**question_row(c), "version": 1, "status": str(QuestionStatus.active), "current_version_id": -number,
         "created_by": actor_id, "created_at": now, "updated_at": now}
        for number, c in enumerate(cleans, start=1)
    ]  # fmt: skip
    table = _QUESTIONS
    returned = await session.execute(insert(table).returning(table.c.id, table.c.current_version_id), rows)
    id_by_number = {-placeholder: question_id for question_id, placeholder in returned}
    ids = [id_by_number[number] for number in range(1, len(cleans) + 1)]
    versions = await _insert_versions(session, [(i, 1, c) for i, c in zip(ids, cleans, strict=True)],
                                      actor_id=actor_id, now=now, note=note)
    await session.execute(update(table).where(table.c.id == bindparam("question_id")),
                          [{"question_id": i, "current_version_id": v} for i, v in zip(ids, versions, strict=True)])
    await _insert_tags(session, zip(ids, cleans, strict=True))


async def _update_questions(
    session: AsyncSession, updates: list[tuple[BankQuestion, CleanQuestion]], *, actor_id: int | None,
    now: datetime, note: str,
) -> None:
    versions = await _insert_versions(session, [(q.id, q.version + 1, c) for q, c in updates],
                                      actor_id=actor_id, now=now, note=note)
    rows = [
        {"question_id": q.id, **question_row(c), "version": q.version + 1, "current_version_id": v,
         "updated_at": now}
        for (q, c), v in zip(updates, versions, strict=True)
    ]  # fmt: skip
    table = _QUESTIONS
    await session.execute(update(table).where(table.c.id == bindparam("question_id")), rows)
    ids = [q.id for q, _ in updates]
    for start in range(0, len(ids), _CHUNK):
        await session.execute(delete(_TAGS).where(_TAGS.c.question_id.in_(ids[start : start + _CHUNK])))
    await _insert_tags(session, ((q.id, c) for q, c in updates))


async def _insert_versions(
    session: AsyncSession, versions: list[tuple[int, int, CleanQuestion]], *, actor_id: int | None,
    now: datetime, note: str,
) -> list[int]:
    """Version rows for ``(question id, version, content)``; their ids in the same order."""
    rows = [
        {**clean.content(), "question_id": question_id, "version": version, "change_note": note,
         "created_by": actor_id, "created_at": now}
        for question_id, version, clean in versions
    ]  # fmt: skip
    table = _VERSIONS
    returned = await session.execute(insert(table).returning(table.c.id, table.c.question_id), rows)
    id_by_question = {question_id: version_id for version_id, question_id in returned}
    return [id_by_question[question_id] for question_id, _, _ in versions]


async def _insert_tags(session: AsyncSession, tagged: Iterable[tuple[int, CleanQuestion]]) -> None:
    rows = [{"question_id": question_id, "tag": tag} for question_id, clean in tagged for tag in clean.tags]
    if rows:
        await session.execute(insert(_TAGS), rows)


async def _audit(
    session: AsyncSession, result: ImportResult, *, filename: str, actor_id: int | None, now: datetime
) -> None:
    detail = {
        "filename": filename, "created": result.created, "updated": result.updated,
        "unchanged": result.unchanged, "skipped": len(result.skipped),
        "near_duplicates": sum(1 for d in result.duplicates if d.kind == "near"),
    }  # fmt: skip
    await record_audit(session, actor_id=actor_id, action="question.import", entity="question", detail=detail, at=now)
