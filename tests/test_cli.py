"""The ``exambank`` command's own rules: Chinese help, and no empty database created where it happens to run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import get_settings


def _question_file(folder: Path) -> Path:
    path = folder / "bank.json"
    path.write_text('[{"type": "judge", "stem": "命令行导入的题目", "answer": "T"}]', encoding="utf-8")
    return path


def test_import_questions_refuses_a_database_that_does_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "another-folder"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("EXAMBANK_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["import-questions", str(_question_file(tmp_path)), "--category", "law"])
    assert result.exit_code == 2, result.output
    assert "不存在，未做任何操作" in result.output
    assert str(elsewhere / "exambank.db") in result.output.replace("\n", "")
    assert list(elsewhere.iterdir()) == []  # nothing created

    monkeypatch.setenv("EXAMBANK_DATABASE_URL", f"sqlite:///{tmp_path / 'named.db'}")
    get_settings.cache_clear()
    named = CliRunner().invoke(cli, ["import-questions", str(_question_file(tmp_path))])
    assert named.exit_code == 2 and "named.db" in named.output.replace("\n", "")
    assert not (tmp_path / "named.db").exists()
    get_settings.cache_clear()


def test_the_help_is_chinese() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "考试系统" in result.output
    for command in ("serve", "migrate", "demo", "import-questions"):
        help_text = CliRunner().invoke(cli, [command, "--help"]).output
        assert any("\u4e00" <= ch <= "\u9fff" for ch in help_text), command
