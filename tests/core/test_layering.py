"""Domains depend downward only: core ← accounts ← org ← bank ← papers, grading ← exams ← reports ← web."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
LAYERS = {
    "core": 0, "accounts": 1, "org": 2, "bank": 3, "papers": 4, "grading": 4, "handbook": 4, "exams": 5,
    "reports": 6, "learning": 6, "web": 7, "demo": 8,
}  # fmt: skip


def _imported_domains(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "app" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def test_domains_import_only_downward() -> None:
    violations = []
    for domain, level in LAYERS.items():
        for path in (APP / domain).rglob("*.py"):
            for imported in _imported_domains(path):
                if LAYERS[imported] > level or (LAYERS[imported] == level and imported != domain):
                    violations.append(f"{path.relative_to(APP)} imports app.{imported}")
    assert violations == []
