"""The ``exambank`` command: serve, migrate, load the demo, import questions."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from sqlalchemy.engine import make_url

from app.core import budget, listen_backlog
from app.core.config import Settings, get_settings
from app.core.metrics_directory import multiprocess_metrics
from app.core.migrate import upgrade_database

# How long uvicorn's supervisor waits for a worker to answer its health check before killing it: a worker
# still importing on a busy machine (several servers starting at once) must not be killed and restarted
# in a loop (uvicorn's default is 5 s).
WORKER_START_SECONDS = 60

cli = typer.Typer(help="exambank —— “基本理论+”考试系统：题库、组卷、准考证、在线考试与统计。", no_args_is_help=True)


def _existing_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names when it is missing (None for PostgreSQL or an existing file)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    path = Path(parsed.database)
    return None if path.exists() else path.resolve()


def refuse_missing_database(url: str) -> None:
    """Commands that work on existing data never create an empty database where they happen to run."""
    missing = _existing_sqlite_file(url)
    if missing is not None:
        typer.echo(
            f"数据库文件 {missing} 不存在，未做任何操作。请在存放数据库的目录中运行，"
            "或用环境变量 EXAMBANK_DATABASE_URL 指定数据库（新建数据库请先运行 exambank migrate）。",
            err=True,
        )
        raise typer.Exit(2)


@cli.command()
def migrate() -> None:
    """执行数据库迁移（数据库不存在时新建）。"""
    upgrade_database(get_settings().database_url)
    typer.echo("数据库已是最新版本")


def _check_connection_budget(settings: Settings, workers: int) -> None:
    """Refuse (or warn, per EXAMBANK_DB_BUDGET_CHECK) to start pools PostgreSQL cannot hold."""
    if not budget.applies(
        settings.database_url, transaction_pooler=settings.db_transaction_pooler, mode=settings.db_budget_check
    ):
        return
    found = asyncio.run(budget.survey(settings.database_url, pool_size=settings.db_pool_size, workers=workers))
    if found.fits:
        return
    message = found.message(workers=workers, pool_size=settings.db_pool_size)
    typer.echo(message, err=True)
    if settings.db_budget_check == "refuse":
        raise typer.Exit(2)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="监听端口")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="工作进程数")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="先载入演示数据")] = False,
    backlog: Annotated[
        int | None, typer.Option(min=64, help="监听队列长度（默认取内核上限 net.core.somaxconn）")
    ] = None,
) -> None:
    """执行数据库迁移后启动服务（多个工作进程共用同一数据库）。"""
    settings = get_settings()
    listen = listen_backlog.choose(backlog)
    if (warning := listen.warning()) is not None:
        typer.echo(warning, err=True)
    upgrade_database(settings.database_url)
    _check_connection_budget(settings, workers)
    if demo:
        from app.demo.loader import load_demo

        summary = asyncio.run(load_demo(settings))
        typer.echo(summary)
    # Several workers: each writes its metrics where any of them sums them for /metrics (app.core.metrics).
    with multiprocess_metrics() if workers > 1 else nullcontext():
        uvicorn.run(
            "app.main:create_served_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            backlog=listen.backlog,
            log_level=settings.log_level.lower(),
            # Off: the application judges the proxy's arrival stamp by the TCP peer, then applies
            # X-Forwarded-For itself for the same trusted proxies (EXAMBANK_TRUSTED_PROXIES, app.core.lane).
            proxy_headers=False,
            server_header=False,  # no "server: uvicorn" telling a scanner what runs here
            timeout_worker_healthcheck=WORKER_START_SECONDS,
        )


@cli.command("demo")
def demo_command() -> None:
    """向所配置的数据库载入演示数据（单位、名册、题目、账号、考试）。"""
    from app.demo.loader import load_demo

    settings = get_settings()
    upgrade_database(settings.database_url)
    typer.echo(asyncio.run(load_demo(settings)))


@cli.command("import-questions")
def import_questions_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="题目文件")],
    category: Annotated[str | None, typer.Option(help="未注明类别的题目所用类别：theory、law 或 policy")] = None,
    unit_code: Annotated[str | None, typer.Option(help="未注明单位的部门政策题所属单位代码")] = None,
    difficulty: Annotated[int | None, typer.Option(min=1, max=5, help="未注明难度的题目所用难度（1–5）")] = None,
) -> None:
    """导入题目文件（.xlsx、.csv、.json、Moodle XML、GIFT、Aiken、QTI），显示进度。"""
    from app.bank.cli import run_import

    settings = get_settings()
    refuse_missing_database(settings.database_url)
    upgrade_database(settings.database_url)
    code = asyncio.run(run_import(settings, file, category=category, unit_code=unit_code, difficulty=difficulty))
    raise typer.Exit(code)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
