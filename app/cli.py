"""The ``exambank`` command: serve, migrate, load the demo, import questions."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from app.core import budget
from app.core.config import Settings, get_settings
from app.core.metrics_directory import multiprocess_metrics
from app.core.migrate import upgrade_database

# How long uvicorn's supervisor waits for a worker to answer its health check before killing it: a worker
# still importing on a busy machine (several servers starting at once) must not be killed and restarted
# in a loop (uvicorn's default is 5 s).
WORKER_START_SECONDS = 60

cli = typer.Typer(help="exambank — online exams and question bank for 基本理论+ exams.", no_args_is_help=True)


@cli.command()
def migrate() -> None:
    """Apply pending database migrations."""
    upgrade_database(get_settings().database_url)
    typer.echo("database is up to date")


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
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="load the demo data set first")] = False,
) -> None:
    """Apply pending migrations once, then serve (several workers share the database)."""
    settings = get_settings()
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
            log_level=settings.log_level.lower(),
            proxy_headers=True,
            timeout_worker_healthcheck=WORKER_START_SECONDS,
        )


@cli.command("demo")
def demo_command() -> None:
    """Load the demo data set (units, rosters, questions, accounts) into the configured database."""
    from app.demo.loader import load_demo

    settings = get_settings()
    upgrade_database(settings.database_url)
    typer.echo(asyncio.run(load_demo(settings)))


@cli.command("import-questions")
def import_questions_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    category: Annotated[str | None, typer.Option(help="category for items that state none")] = None,
    unit_code: Annotated[str | None, typer.Option(help="unit for policy items that state none")] = None,
    difficulty: Annotated[int | None, typer.Option(min=1, max=5)] = None,
) -> None:
    """Import a question file (.xlsx, .csv, .json, Moodle XML, GIFT, Aiken, QTI) with a progress bar."""
    from app.bank.cli import run_import

    settings = get_settings()
    upgrade_database(settings.database_url)
    code = asyncio.run(run_import(settings, file, category=category, unit_code=unit_code, difficulty=difficulty))
    raise typer.Exit(code)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
