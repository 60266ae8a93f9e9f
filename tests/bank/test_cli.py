"""``exambank import-questions`` on a SQLite file of its own (it commits for real)."""

import io
import os
import subprocess
import sys
from pathlib import Path

import anyio.to_thread
import pytest
from rich.console import Console
from sqlalchemy import func, select

from app.bank.cli import run_import
from app.bank.models import Question
from app.core.audit import AuditEntry
from app.core.config import Settings
from app.core.db import Database
from app.core.migrate import upgrade_database
from app.org.models import Unit
from tests.bank.factories_bank import sheet_row, xlsx_bytes
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.real_commit

GOOD_ROWS = [
    sheet_row(题型="单选", 题干="命令行导入的单选题", 选项A="甲", 选项B="乙", 答案="B"),
    sheet_row(题型="判断", 题干="命令行导入的判断题", 答案="对"),
    sheet_row(题型="判断", 类别="政策", 单位代码="CLI01", 题干="命令行导入的政策题", 答案="错"),
    sheet_row(题型="简答题", 题干="不支持的题型", 答案="略"),
]


@pytest.fixture
async def cli_settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    await anyio.to_thread.run_sync(upgrade_database, url)  # Alembic runs its own event loop
    database = Database(url, pool_size=1)
    async with database.write_sessions() as session:
        session.add(Unit(code="CLI01", name="命令行单位", headcount=50))
        await session.commit()
    await database.dispose()
    return Settings(environment="test", database_url=url, secret_key=TEST_SECRET, run_sweeper=False)


async def scalar_of(settings: Settings, statement: object) -> object:
    database = Database(settings.database_url, pool_size=1)
    try:
        async with database.read_sessions() as session:
            return await session.scalar(statement)  # type: ignore[call-overload]
    finally:
        await database.dispose()


def captured() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, width=160), output


async def test_run_import_stores_the_file_and_prints_a_summary(cli_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bank.xlsx"
    path.write_bytes(xlsx_bytes(GOOD_ROWS))
    console, output = captured()
    code = await run_import(cli_settings, path, category="theory", difficulty=2, console=console)
    assert code == 0, output.getvalue()
    assert await scalar_of(cli_settings, select(func.count()).select_from(Question)) == 3
    assert await scalar_of(cli_settings, select(func.max(Question.difficulty))) == 2
    audit = await scalar_of(cli_settings, select(AuditEntry).where(AuditEntry.action == "question.import"))
    assert isinstance(audit, AuditEntry)
    assert (audit.actor_id, audit.detail["created"], audit.detail["filename"]) == (None, 3, "bank.xlsx")
    text = output.getvalue()
    assert "新增" in text
    assert "不支持“简答题”题型" in text


async def test_run_import_rejects_a_bad_file_and_stores_nothing(cli_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    one_key = sheet_row(题型="多选", 题干="只有一个答案", 选项A="甲", 选项B="乙", 答案="A")
    path.write_bytes(xlsx_bytes([*GOOD_ROWS, one_key]))
    console, output = captured()
    code = await run_import(cli_settings, path, category="theory", console=console)
    assert code == 1
    assert await scalar_of(cli_settings, select(func.count()).select_from(Question)) == 0
    text = output.getvalue()
    assert "有错误的行" in text
    assert "多选题至少有两个答案" in text
    assert "未导入任何题目：共 1 处错误" in text


async def test_run_import_refuses_an_unknown_category(cli_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bank.xlsx"
    path.write_bytes(xlsx_bytes(GOOD_ROWS))
    console, output = captured()
    assert await run_import(cli_settings, path, category="history", console=console) == 2
    assert "未知类别" in output.getvalue()


def exambank(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("exambank")
    env = {**os.environ, "EXAMBANK_DATABASE_URL": settings.database_url, "EXAMBANK_ENVIRONMENT": "test"}
    return subprocess.run([str(command), *args], env=env, capture_output=True, text=True, timeout=120, check=False)


async def test_the_exambank_command(cli_settings: Settings, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.csv"
    good.write_text('[{"type": "judge", "stem": "子进程导入的题目", "answer": "T"}]', encoding="utf-8")
    bad.write_text("题型,题干,答案\n单选,没有选项的单选题,A\n", encoding="utf-8")
    stored = exambank(cli_settings, "import-questions", str(good), "--category", "law")
    assert stored.returncode == 0, stored.stdout + stored.stderr
    assert await scalar_of(cli_settings, select(Question.category)) == "law"
    rejected = exambank(cli_settings, "import-questions", str(bad), "--category", "law")
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    assert "单选题应有 2 到 8 个选项" in rejected.stdout
