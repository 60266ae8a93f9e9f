"""``exambank import-questions FILE``: the bank import from the command line, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import anyio
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.bank.importer import SYSTEM_PRINCIPAL, ImportDefaults, import_questions
from app.bank.normalise import parse_category
from app.bank.schemas import ImportResult
from app.core.clock import SystemClock
from app.core.config import Settings
from app.core.db import Database
from app.core.errors import ImportRejectedError

STAGES = {"parse": "读取文件", "validate": "逐行检查", "duplicates": "查找重复题目", "write": "写入题目"}
EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


async def run_import(
    settings: Settings,
    path: Path,
    *,
    category: str | None = None,
    unit_code: str | None = None,
    difficulty: int | None = None,
    console: Console | None = None,
) -> int:
    """Import one file as the system administrator; 0 when stored, 1 when rejected (nothing stored)."""
    console = console or Console()
    defaults = ImportDefaults(category=parse_category(category), unit_code=unit_code or None, difficulty=difficulty)
    if category and defaults.category is None:
        console.print(f"[red]未知类别 {category!r}：可选 theory（基本理论）、law（基础法律）、policy（部门政策）[/red]")
        return EXIT_USAGE
    content = await anyio.Path(path).read_bytes()
    database = Database(settings.database_url, pool_size=1)
    try:
        result = await _import(database, path.name, content, defaults, console)
    except ImportRejectedError as rejected:
        console.print(_errors_table(rejected.errors))
        console.print(f"[red]未导入任何题目：共 {len(rejected.errors)} 处错误[/red]")
        return EXIT_REJECTED
    finally:
        await database.dispose()
    _print_summary(console, result)
    return EXIT_OK


async def _import(
    database: Database, filename: str, content: bytes, defaults: ImportDefaults, console: Console
) -> ImportResult:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("开始", total=len(STAGES))

        def advance(stage: str) -> None:
            done = list(STAGES).index(stage)
            progress.update(task, description=STAGES[stage], completed=done)

        async with database.read_sessions() as reader, database.write_sessions() as session:
            result = await import_questions(
                reader,
                session,
                filename=filename,
                content=content,
                defaults=defaults,
                principal=SYSTEM_PRINCIPAL,
                now=SystemClock().now(),
                progress=advance,
            )
            await session.commit()
        progress.update(task, description="完成", completed=len(STAGES))
    return result


def _errors_table(errors: list[dict[str, object]]) -> Table:
    table = Table("行", "字段", "问题", title="有错误的行")
    for error in errors:
        table.add_row(str(error["row"]), str(error["field"]), str(error["message"]))
    return table


def _print_summary(console: Console, result: ImportResult) -> None:
    summary = Table("新增", "更新", "未变", "跳过", "疑似重复", title="导入结果")
    near = [d for d in result.duplicates if d.kind == "near"]
    summary.add_row(*(str(n) for n in (result.created, result.updated, result.unchanged, len(result.skipped),
                                       len(near))))  # fmt: skip
    console.print(summary)
    if result.skipped:
        skipped = Table("行", "原因", title="已跳过")
        for item in result.skipped:
            skipped.add_row(str(item.row), item.reason)
        console.print(skipped)
    if near:
        similar = Table("行", "相似于", "相似度", title="疑似重复（仍已导入）")
        for match in near:
            target = f"第 {match.similar_to_row} 行" if match.similar_to_row else f"题目 {match.question_id}"
            similar.add_row(str(match.row), target, f"{match.score:.0f}")
        console.print(similar)
