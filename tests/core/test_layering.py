"""Domains depend downward only: core ← accounts ← org ← bank ← papers, grading ← exams ← reports ← web; inside
the exams, the exam room stands on the lifecycle's base only."""

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


# Inside app/exams: the lifecycle's base (models, schemas, exam rules) imports none of the parts; the exam
# room (attempts, lane, batches, rules, sweeper, served paper, shuffling) imports nothing of the exams
# but that base and itself — the lifecycle (close), admission (extra time) and proctoring build on it.
EXAMS_BASE = {"app.exams.models", "app.exams.schemas", "app.exams.exam_rules"}
EXAMS_ALLOWED = {
    "base": EXAMS_BASE,
    "room": EXAMS_BASE | {"app.exams.room"},
}


def _exams_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {name for name in names if name.startswith("app.exams")}
    return found


def _allowed(name: str, allowed: set[str]) -> bool:
    # "from app.exams.room import rules" names app.exams.room and app.exams.room.rules; "from app.exams
    # import service" names app.exams (the package itself, empty) and app.exams.service.
    return name == "app.exams" or any(name == prefix or name.startswith(prefix + ".") for prefix in allowed)


def test_the_exam_room_stands_on_the_lifecycles_base_only() -> None:
    parts = {"base": [APP / "exams" / f"{m.rsplit('.', 1)[1]}.py" for m in EXAMS_BASE],
             "room": list((APP / "exams" / "room").rglob("*.py"))}  # fmt: skip
    violations = [
        f"{path.relative_to(APP)} imports {name}"
        for part, paths in parts.items()
        for path in paths
        for name in _exams_imports(path)
        if not _allowed(name, EXAMS_ALLOWED[part])
    ]
    assert violations == []
