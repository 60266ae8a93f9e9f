"""Importing questions from .xlsx, .csv, .json and the interchange formats: every row, or none.

Duplicates (see ``duplicates``): a row whose stem and options equal a bank question of its pool updates that
question — a new version when its content differs, else it counts as unchanged — and fields the row does not
state keep the bank's value. A row repeating an earlier row of the same file (same stem and options) with the
same type and right answer is imported once and listed under ``duplicates``; one with another answer or type
is a bad row. Near duplicates are only reported.

What a file states: a spreadsheet states the columns it has (an empty cell clears an optional field), a .json
item the keys it has; an interchange item (Moodle XML, GIFT, Aiken, QTI) states only the optional fields it
fills in — Aiken carries none of them, none carries the legal basis or difficulty — so a re-import never
erases what the format cannot carry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import PurePath
from typing import Any, cast

import anyio.to_thread
from sqlalchemy import Table, and_, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.bank import sheet
from app.bank.duplicates import Match, Pool, StemEntry, find_duplicates, stem_entry
from app.bank.interchange import read_interchange
from app.bank.models import (
    INCLUDE_STAGED,
    Category,
    Question,
    QuestionImport,
    QuestionStatus,
    QuestionTag,
    QuestionType,
    QuestionVersion,
)
from app.bank.normalise import CleanQuestion, fold_stem, normalise_question, parse_category, parse_type
from app.bank.schemas import ImportDuplicate, ImportResult, ImportRowError, ImportSkipped
from app.bank.service import CONTENT_FIELDS, may_edit, question_row
from app.core.audit import record_audit
from app.core.clock import Clock, SystemClock
from app.core.errors import ConflictError, ForbiddenError, ImportRejectedError, UnprocessableError
from app.core.logging import get_logger
from app.core.tabular import MAX_UPLOAD_BYTES, ImportTooLargeError, read_table
from app.org import service as org_service

log = get_logger(__name__)
SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods", ".csv"})
UNSUPPORTED_TYPE_WORDS = frozenset({
    "填空", "填空题", "简答", "简答题", "问答", "问答题", "论述", "论述题", "案例", "案例题", "案例分析", "案例分析题",
    "计算", "计算题", "排序", "排序题", "匹配", "匹配题", "essay", "fill", "blank", "cloze", "shortanswer",
    "short_answer", "matching", "numerical", "ordering",
})  # fmt: skip
# Fields a row may empty on purpose; other fields left blank keep the bank's value when a row updates.
CLEARABLE_FIELDS = frozenset({"knowledge_point", "explanation", "legal_basis", "tags"})
# What an interchange item always states; its other fields count only when filled in.
_REQUIRED = frozenset({"type", "stem", "options", "answer"})
# The command line acts as this administrator; id 0 has no user row, so it is recorded as no actor.
SYSTEM_PRINCIPAL = Principal(id=0, username="system", roles=frozenset({Role.admin}), unit_id=None, session_digest="")
_CHUNK = 5000
_PLAN_ATTEMPTS = 3
# New questions per write transaction: each holds the SQLite write lock for a few milliseconds only.
BATCH_ROWS = 500
BATCH_PAUSE_SECONDS = 0.005
# An import writes a batch every few milliseconds; one silent this long died, and its staged rows go.
ABANDONED_AFTER = timedelta(minutes=10)
_PUBLISH_LOCK_KEY = 0x0E7A_B1A7  # PostgreSQL advisory lock: one import publishes at a time
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
    repeats: int = 0
    errors: list[ImportRowError] = field(default_factory=list)
    duplicates: list[ImportDuplicate] = field(default_factory=list)


def actor_id_of(principal: Principal) -> int | None:
    return principal.id or None


def ensure_can_import(principal: Principal) -> None:
    if not (principal.has_any(Role.bank_editor) or Role.unit_admin in principal.roles):
        raise ForbiddenError("只有题库管理员和单位管理员可以导入题目")


async def import_questions(
    read: AsyncSession,
    write: AsyncSession,
    *,
    filename: str,
    content: bytes,
    defaults: ImportDefaults,
    principal: Principal,
    now: datetime,
    progress: Progress | None = None,
    clock: Clock | None = None,
) -> ImportResult:
    """Validate a whole file and store it; on any bad row store nothing and raise ``ImportRejectedError``.

    Everything slow — parsing, validation, the duplicate search against the bank — reads through ``read``,
    which holds no write lock on SQLite. The new questions are then written through ``write`` in short
    transactions of ``BATCH_ROWS``, staged (invisible), and one last transaction checks that the bank is
    as the plan saw it and publishes them with the updates (else it discards them and plans again). The
    write session is committed here; ``clock`` (the system's by default) keeps the import marked alive.
    """
    ensure_can_import(principal)
    # What the write session did so far (authenticating the caller) ends here: on SQLite its transaction
    # holds the write lock, which must not stay taken through the plan.
    await write.commit()
    clock = clock or SystemClock()
    step = progress or (lambda _stage: None)
    step("parse")
    source = await anyio.to_thread.run_sync(read_source, filename, content, defaults)
    await discard_abandoned_imports(write, now=clock.now())
    note = f"imported from {filename}"[:255]
    for _attempt in range(_PLAN_ATTEMPTS):
        step("validate")
        revision = await bank_revision(read)
        plan = await plan_import(read, source, principal, step)
        if plan.errors:
            raise ImportRejectedError(
                [e.model_dump() for e in plan.errors],
                skipped=[s.model_dump() for s in source.skipped],
                duplicates=[d.model_dump(exclude_none=True) for d in plan.duplicates],
            )
        dialect = write.get_bind().dialect
        prepared = await anyio.to_thread.run_sync(
            partial(prepare_write, plan, dialect, actor_id=actor_id_of(principal), now=now, note=note)
        )
        result = ImportResult(
            created=len(plan.creates),
            updated=len(plan.updates),
            unchanged=plan.unchanged,
            skipped=source.skipped,
            duplicates=plan.duplicates,
            warnings=source.warnings,
        )
        step("write")
        import_id = await open_import(write, filename=filename, now=clock.now())
        try:
            await stage_prepared(write, prepared, import_id, clock)
            published = await publish_import(write, prepared, import_id, revision)
            if published:
                await _audit(write, result, filename=filename, actor_id=actor_id_of(principal), now=now)
                await write.commit()
                return result
        except BaseException:
            await _discard_after_failure(write, import_id)
            raise
        await discard_import(write, import_id)
        await read.commit()  # a fresh snapshot for the next plan
    raise ConflictError("题库在导入期间不断变化，请稍后重试（未导入任何题目）")


async def bank_revision(session: AsyncSession) -> tuple[int, int]:
    """Changes when any question is created or edited (each writes a version row); staged rows do not count."""
    row = (await session.execute(select(func.count(QuestionVersion.id), func.max(QuestionVersion.id)))).one()
    return int(row[0] or 0), int(row[1] or 0)


# ---------------------------------------------------------------------------------------------- reading


def read_source(filename: str, content: bytes, defaults: ImportDefaults) -> SourceFile:
    """The items of an upload with the defaults applied (blocking: run it in a worker thread)."""
    suffix = PurePath(filename).suffix.lower()
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImportTooLargeError([_file_error(f"文件大于 {MAX_UPLOAD_BYTES // 2**20} MB").model_dump()])
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
    except UnicodeDecodeError:
        return SourceFile(errors=[_file_error("无法读取的 JSON 文件：不是 UTF-8 编码的文本")])
    except json.JSONDecodeError as exc:
        return SourceFile(errors=[_file_error(f"无法读取的 JSON 文件：第 {exc.lineno} 行第 {exc.colno} 列有语法错误")])
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
        message = (f"不支持的文件格式 {PurePath(filename).suffix or filename!r}：请使用 .xlsx、.csv、.json、"
                   "Moodle XML、GIFT、Aiken 或 QTI")  # fmt: skip
        return SourceFile(errors=[_file_error(message)])
    source = SourceFile(
        skipped=[ImportSkipped(row=s.row, reason=s.reason) for s in result.skipped],
        errors=[ImportRowError(row=e.row, field=e.field, message=e.message) for e in result.errors],
    )
    for parsed in result.items:
        data = dict(parsed.data)
        source.warnings += [{"row": parsed.row, "message": w} for w in data.pop("warnings", [])]
        _add_item(source, parsed.row, {k: v for k, v in data.items() if k in _REQUIRED or not _blank(v)})
    return source


def _add_item(source: SourceFile, row: int, stated: dict[str, Any]) -> None:
    type_word = str(stated.get("type") or "").strip()
    if parse_type(type_word) is None and type_word.lower() in UNSUPPORTED_TYPE_WORDS:
        source.skipped.append(ImportSkipped(row=row, reason=f"不支持“{type_word}”题型（本系统只有单选、多选和判断题）"))
    else:
        source.items.append(SourceItem(row=row, stated=stated))


def _blank(value: object) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


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


async def plan_import(
    session: AsyncSession, source: SourceFile, principal: Principal, progress: Progress | None = None
) -> ImportPlan:
    """Check every item (values, units, permissions, duplicates) and decide what to create and update.

    Only the two reads (units, the bank's pools) run on the event loop; every step over the rows runs in
    a worker thread, so the exam's requests in the same process keep being served."""
    candidates, errors = await anyio.to_thread.run_sync(validate_items, source)
    # Units are few (one per provincial department), so one query answers every code and id in the file.
    units = {unit.code: unit.id for unit in await org_service.all_units(session)}
    candidates, errors = await anyio.to_thread.run_sync(_checked, candidates, errors, units, principal, source.label)
    bank = await _load_bank(session, {_pool(c.clean) for c in candidates})
    if progress is not None:
        progress("duplicates")
    return await anyio.to_thread.run_sync(_planned, source, candidates, errors, bank)


def _checked(
    candidates: list[Candidate],
    errors: list[ImportRowError],
    units: dict[str, int],
    principal: Principal,
    label: Callable[[str], str],
) -> tuple[list[Candidate], list[ImportRowError]]:
    errors = [*errors, *_resolve_units(units, candidates, label), *_permission_errors(candidates, principal, label)]
    failed = {e.row for e in errors}
    return [c for c in candidates if c.row not in failed], errors


def _planned(
    source: SourceFile, candidates: list[Candidate], errors: list[ImportRowError], bank: dict[int, BankQuestion]
) -> ImportPlan:
    matches = find_duplicates(_entries(candidates), _bank_entries(bank.values()))
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


def _resolve_units(
    ids_by_code: dict[str, int], candidates: list[Candidate], label: Callable[[str], str]
) -> list[ImportRowError]:
    known_ids = set(ids_by_code.values())
    errors = []
    for candidate in candidates:
        clean = candidate.clean
        if clean.unit_id is not None and clean.unit_id not in known_ids:
            errors.append(
                ImportRowError(row=candidate.row, field=label("unit_id"), message=f"单位 {clean.unit_id} 不存在")
            )
        elif clean.unit_id is None and clean.unit_code is not None:
            clean.unit_id = ids_by_code.get(clean.unit_code)
            if clean.unit_id is None:
                errors.append(
                    ImportRowError(
                        row=candidate.row, field=label("unit_code"), message=f"单位代码 {clean.unit_code} 不存在"
                    )
                )
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
        row.id: BankQuestion(row.id, row.version, {name: getattr(row, name) for name in CONTENT_FIELDS}) for row in rows
    }


def _duplicate(match: Match) -> ImportDuplicate:
    return ImportDuplicate(
        row=match.row,
        kind=match.kind,
        similar_to_row=match.similar_to_row,
        question_id=match.question_id,
        score=match.score,
    )


def _right_answers(clean: CleanQuestion) -> tuple[str, frozenset[str]]:
    """The type and the right options by their text: a repeat may list the options in another order."""
    if clean.type == QuestionType.judge:
        return str(clean.type), frozenset(clean.answer)
    texts = {o["key"]: fold_stem(o["text"]) for o in clean.options}
    return str(clean.type), frozenset(texts[key] for key in clean.answer)


def _type_conflicts(candidates: list[Candidate], label: Callable[[str], str]) -> list[ImportRowError]:
    # Repeats are found inside one pool (one type); the same stem and options under another type conflict.
    first: dict[tuple[str, int | None, str], Candidate] = {}
    errors = []
    for candidate, entry in zip(candidates, _entries(candidates), strict=True):
        if candidate.clean.type == QuestionType.judge:
            continue
        key = (str(candidate.clean.category), candidate.clean.unit_id, entry.identity)
        earlier = first.setdefault(key, candidate)
        if earlier.clean.type != candidate.clean.type:
            errors.append(
                ImportRowError(
                    row=candidate.row, field=label("type"), message=f"与第 {earlier.row} 行题干和选项相同，但题型不同"
                )
            )
    return errors


def _decide(
    plan: ImportPlan,
    candidates: list[Candidate],
    bank: dict[int, BankQuestion],
    matches: list[Match],
    label: Callable[[str], str],
) -> None:
    exact = [m for m in matches if m.kind == "exact"]
    repeated = {m.row: m.similar_to_row for m in exact if m.similar_to_row is not None}
    existing = {m.row: m.question_id for m in exact if m.question_id is not None}
    by_row = {c.row: c for c in candidates}
    plan.errors += _type_conflicts(candidates, label)
    for candidate in candidates:
        if candidate.row in repeated:
            first = repeated[candidate.row]
            if _right_answers(by_row[first].clean) != _right_answers(candidate.clean):
                plan.errors.append(
                    ImportRowError(
                        row=candidate.row, field=label("answer"), message=f"与第 {first} 行题干和选项相同，但答案不同"
                    )
                )
            else:
                plan.repeats += 1  # imported once, with the first row; listed under duplicates
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


@dataclass(slots=True)
class DriverInsert:
    """An INSERT compiled for the dialect, and its rows bound as the driver takes them (by SQLAlchemy's own
    processors: JSON, UTC datetimes); the id columns are left for ``fill`` under the write lock."""

    sql: str
    order: list[str]
    rows: list[list[Any]]

    @classmethod
    def build(cls, dialect: Dialect, table: Table, rows: list[dict[str, Any]], ids: Sequence[str]) -> DriverInsert:
        if not rows:
            return cls("", [], [])
        columns = [*ids, *rows[0]]
        compiled = insert(table).compile(dialect=dialect, column_keys=columns)
        order = list(compiled.positiontup or [])
        assert set(columns) <= set(order), "the driver takes positional parameters"
        # Columns the rows leave out that have a plain default (the bank's statistics start at 0 and ''):
        # the compiled INSERT names them too, so their default is bound like any other value.
        defaults: dict[str, Any] = {}
        for name in order:
            if name not in columns:
                default = table.c[name].default
                assert default is not None and default.is_scalar, f"{name} needs a value"
                defaults[name] = default.arg  # type: ignore[attr-defined]
        processors = {name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order}
        bound = []
        for row in rows:
            values = []
            for name in order:
                value, process = row.get(name, defaults.get(name)), processors[name]
                values.append(value if process is None or name in ids else process(value))
            bound.append(values)
        return cls(str(compiled), order, bound)

    def fill(self, column: str, values: Sequence[int | None], *, start: int = 0) -> None:
        if not values:
            return
        at = self.order.index(column)
        for row, value in zip(self.rows[start : start + len(values)], values, strict=True):
            row[at] = value

    def rows_between(self, start: int, stop: int | None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.rows[start:stop]]


@dataclass(slots=True)
class PreparedWrite:
    """The rows of a plan, built before the write lock is taken; under it only their ids (and the import's
    staging mark) are filled in (SQLAlchemy's bind processing of 60,000 rows took three quarters of the write)."""

    questions: DriverInsert
    versions: DriverInsert  # the creates' first versions, then the updates' new versions
    update_ids: list[int]
    tags: list[list[str]]  # per create
    tag_sql: DriverInsert
    updates: list[dict[str, Any]]  # through SQLAlchemy (a re-import updates few)
    update_tags: list[tuple[int, list[str]]]


def prepare_write(
    plan: ImportPlan, dialect: Dialect, *, actor_id: int | None, now: datetime, note: str
) -> PreparedWrite:
    """Every row the plan writes, without ids (CPU work: run it in a worker thread, before the lock)."""
    version_fields = {"change_note": note, "created_by": actor_id, "created_at": now}
    questions = [
        {**question_row(c), "version": 1, "status": str(QuestionStatus.active), "created_by": actor_id,
         "created_at": now, "updated_at": now}
        for c in plan.creates
    ]  # fmt: skip
    versions = [{**c.content(), "version": 1, **version_fields} for c in plan.creates]
    versions += [{**c.content(), "version": q.version + 1, **version_fields} for q, c in plan.updates]
    updates = [{"question_id": q.id, **question_row(c), "version": q.version + 1, "updated_at": now}
               for q, c in plan.updates]  # fmt: skip
    return PreparedWrite(
        questions=DriverInsert.build(dialect, _QUESTIONS, questions, ("id", "current_version_id", "import_id")),
        versions=DriverInsert.build(dialect, _VERSIONS, versions, ("id", "question_id", "import_id")),
        update_ids=[q.id for q, _ in plan.updates],
        tags=[c.tags for c in plan.creates],
        tag_sql=DriverInsert.build(dialect, _TAGS, [{"question_id": 0, "tag": ""}], ()),
        updates=updates,
        update_tags=[(q.id, c.tags) for q, c in plan.updates],
    )


async def allocate_ids(session: AsyncSession, table: Table, count: int) -> list[int]:
    """``count`` new ids of ``table``: from its sequence on PostgreSQL; on SQLite, past the largest id,
    staged rows included (the caller holds the write lock, so no one else inserts meanwhile)."""
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
            {"table": table.name, "count": count},
        )
        return [int(row[0]) for row in rows]
    largest = await session.scalar(select(func.max(table.c.id)), execution_options={INCLUDE_STAGED: True})
    return list(range(int(largest or 0) + 1, int(largest or 0) + 1 + count))


async def yield_to_other_writers() -> None:
    """Between two batches: the lock is free long enough for the exam room's writer (it polls every half
    millisecond) and the other workers' requests to take it."""
    await anyio.sleep(BATCH_PAUSE_SECONDS)


async def open_import(session: AsyncSession, *, filename: str, now: datetime) -> int:
    """Register an import under way (committed), the mark its staged rows carry."""
    row = {"filename": filename[:255], "started_at": now, "touched_at": now}
    import_id = await session.scalar(insert(QuestionImport).values(**row).returning(QuestionImport.id))
    await session.commit()
    assert import_id is not None
    return int(import_id)


async def stage_prepared(session: AsyncSession, prepared: PreparedWrite, import_id: int, clock: Clock) -> None:
    """The new questions, their first versions and tags, ``BATCH_ROWS`` per transaction, all staged."""
    created = len(prepared.questions.rows)
    prepared.questions.fill("import_id", [import_id] * created)
    prepared.versions.fill("import_id", [import_id] * created + [None] * len(prepared.update_ids))
    order = prepared.tag_sql.order
    for start in range(0, created, BATCH_ROWS):
        stop = min(start + BATCH_ROWS, created)
        await _touch(session, import_id, clock.now())
        question_ids = await allocate_ids(session, _QUESTIONS, stop - start)
        version_ids = await allocate_ids(session, _VERSIONS, stop - start)
        prepared.questions.fill("id", question_ids, start=start)
        prepared.questions.fill("current_version_id", version_ids, start=start)
        prepared.versions.fill("id", version_ids, start=start)
        prepared.versions.fill("question_id", question_ids, start=start)
        connection = await session.connection()
        await connection.exec_driver_sql(prepared.questions.sql, prepared.questions.rows_between(start, stop))
        await connection.exec_driver_sql(prepared.versions.sql, prepared.versions.rows_between(start, stop))
        tagged = zip(question_ids, prepared.tags[start:stop], strict=True)
        tag_rows = [tuple({"question_id": qid, "tag": tag}[name] for name in order) for qid, tags in tagged
                    for tag in tags]  # fmt: skip
        if tag_rows:
            await connection.exec_driver_sql(prepared.tag_sql.sql, tag_rows)
        await session.commit()
        await yield_to_other_writers()


async def publish_import(session: AsyncSession, prepared: PreparedWrite, import_id: int, revision: object) -> bool:
    """One transaction (left open for the caller's commit): when the bank is still as planned, the updates'
    new versions, and every staged row of the import made visible. False, nothing written, when not."""
    if session.get_bind().dialect.name == "postgresql":
        # Two imports publishing at once would each find the bank as planned: they take turns, as on SQLite.
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PUBLISH_LOCK_KEY})
    if await bank_revision(session) != revision:  # on SQLite the write lock is taken here
        await session.rollback()
        return False
    finished = await session.execute(delete(QuestionImport).where(QuestionImport.id == import_id))
    if cast(CursorResult[Any], finished).rowcount != 1:
        # Taken for dead and discarded (no batch for ``ABANDONED_AFTER``): some of its rows may be gone.
        raise ConflictError("导入中断过久，已被清理，请重新导入（未导入任何题目）")
    await _write_updates(session, prepared)
    for table in (_QUESTIONS, _VERSIONS):
        await session.execute(update(table).where(table.c.import_id == import_id).values(import_id=None))
    return True


async def _write_updates(session: AsyncSession, prepared: PreparedWrite) -> None:
    # A new version becomes current in the same transaction that writes it: staged beside the question's
    # current one, it would take the version number an editor's edit of the same question takes meanwhile.
    created = len(prepared.questions.rows)
    if not prepared.update_ids:
        return
    version_ids = await allocate_ids(session, _VERSIONS, len(prepared.update_ids))
    prepared.versions.fill("id", version_ids, start=created)
    prepared.versions.fill("question_id", prepared.update_ids, start=created)
    connection = await session.connection()
    await connection.exec_driver_sql(prepared.versions.sql, prepared.versions.rows_between(created, None))
    for row, version_id in zip(prepared.updates, version_ids, strict=True):
        row["current_version_id"] = version_id
    await session.execute(update(_QUESTIONS).where(_QUESTIONS.c.id == bindparam("question_id")), prepared.updates)
    for start in range(0, len(prepared.update_ids), _CHUNK):
        chunk = prepared.update_ids[start : start + _CHUNK]
        await session.execute(delete(_TAGS).where(_TAGS.c.question_id.in_(chunk)))
    order = prepared.tag_sql.order
    tag_rows = [tuple({"question_id": qid, "tag": tag}[name] for name in order) for qid, tags in prepared.update_tags
                for tag in tags]  # fmt: skip
    if tag_rows:
        await connection.exec_driver_sql(prepared.tag_sql.sql, tag_rows)


async def _touch(session: AsyncSession, import_id: int, now: datetime) -> None:
    touched = await session.execute(update(QuestionImport).where(QuestionImport.id == import_id).values(touched_at=now))
    if cast(CursorResult[Any], touched).rowcount != 1:
        raise ConflictError("导入中断过久，已被清理，请重新导入（未导入任何题目）")


async def discard_import(session: AsyncSession, import_id: int) -> None:
    """Forget an import and delete what it staged, in short transactions (nothing of it was ever visible)."""
    await session.execute(delete(QuestionImport).where(QuestionImport.id == import_id))
    await session.commit()
    await _delete_staged(session, [import_id])


async def _discard_after_failure(session: AsyncSession, import_id: int) -> None:
    try:
        await session.rollback()
        await discard_import(session, import_id)
    except Exception:  # the import's own error is the one to report; the rows stay staged until cleaned
        log.warning("staged rows left for the next clean-up", import_id=import_id, exc_info=True)


async def discard_abandoned_imports(session: AsyncSession, *, now: datetime) -> int:
    """Delete what dead imports staged (untouched for ``ABANDONED_AFTER``, or no longer listed); committed.

    Run before each import and at start-up. Returns how many imports it discarded."""
    await session.execute(delete(QuestionImport).where(QuestionImport.touched_at < now - ABANDONED_AFTER))
    await session.commit()
    listed = select(QuestionImport.id)
    dead: set[int] = set()
    for table in (_QUESTIONS, _VERSIONS):
        staged = table.c.import_id.is_not(None)
        found = await session.scalars(
            select(table.c.import_id).distinct().where(staged, table.c.import_id.not_in(listed)),
            execution_options={INCLUDE_STAGED: True},
        )
        dead.update(found)
    await session.commit()
    if dead:
        await _delete_staged(session, sorted(dead))
    return len(dead)


async def _delete_staged(session: AsyncSession, import_ids: list[int]) -> None:
    while True:
        ids = list(await session.scalars(
            select(_QUESTIONS.c.id).where(_QUESTIONS.c.import_id.in_(import_ids)).limit(BATCH_ROWS),
            execution_options={INCLUDE_STAGED: True},
        ))  # fmt: skip
        versions = delete(_VERSIONS).where(or_(_VERSIONS.c.import_id.in_(import_ids), _VERSIONS.c.question_id.in_(ids)))
        await session.execute(versions)
        if ids:
            await session.execute(delete(_TAGS).where(_TAGS.c.question_id.in_(ids)))
            await session.execute(delete(_QUESTIONS).where(_QUESTIONS.c.id.in_(ids)))
        await session.commit()
        if len(ids) < BATCH_ROWS:
            return
        await yield_to_other_writers()


async def _audit(
    session: AsyncSession, result: ImportResult, *, filename: str, actor_id: int | None, now: datetime
) -> None:
    detail = {
        "filename": filename, "created": result.created, "updated": result.updated,
        "unchanged": result.unchanged, "skipped": len(result.skipped),
        "repeats": sum(1 for d in result.duplicates if d.kind == "exact" and d.similar_to_row is not None),
        "near_duplicates": sum(1 for d in result.duplicates if d.kind == "near"),
    }  # fmt: skip
    await record_audit(session, actor_id=actor_id, action="question.import", entity="question", detail=detail, at=now)
