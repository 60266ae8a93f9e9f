"""Jinja2 rendering for the page shells, and the few reads the shells need before any JavaScript runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.core.paging import MAX_LIMIT
from app.exams.models import Attempt, Exam, Participant
from app.org.models import Cadre, Unit
from app.web.static_files import static_url

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

ROLE_LABELS = {
    Role.admin: "系统管理员",
    Role.bank_editor: "题库管理员",
    Role.organiser: "考务",
    Role.proctor: "监考",
    Role.unit_admin: "单位管理员",
    Role.supervisor: "督导",
    Role.examinee: "考生",
}

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals["static"] = static_url
# The pages page through `{items, total}` lists at the server's own largest page (app/core/paging.py).
environment.globals["max_page_limit"] = MAX_LIMIT


@dataclass(frozen=True)
class Sitting:
    """What the exam room shows before the examinee starts: the exam, his ticket and the rules."""

    exam_id: int
    exam_name: str
    mode: str
    time_limit_seconds: int
    ticket_no: str
    cadre_name: str
    unit_name: str
    focus_loss_limit: int | None
    multiple_scoring: str
    # The examinee's latest attempt: None before his first start, else in_progress or submitted.
    attempt_status: str | None = None


async def find_sitting(session: AsyncSession, user_id: int) -> Sitting | None:
    """The exam an examinee's ticket belongs to, or None for a user without a ticket."""
    row = (
        await session.execute(
            select(
                Exam.id,
                Exam.name,
                Exam.mode,
                Exam.time_limit_seconds,
                Exam.focus_loss_limit,
                Exam.multiple_scoring,
                Participant.ticket_no,
                Cadre.name,
                Unit.name,
                select(Attempt.status)
                .where(Attempt.participant_id == Participant.id)
                .order_by(Attempt.attempt_no.desc())
                .limit(1)
                .scalar_subquery(),
            )
            .join(Participant, Participant.exam_id == Exam.id)
            .join(Cadre, Cadre.id == Participant.cadre_id)
            .join(Unit, Unit.id == Participant.unit_id)
            .where(Participant.user_id == user_id)
        )
    ).first()
    if row is None:
        return None
    exam_id, name, mode, limit, focus_limit, scoring, ticket_no, cadre_name, unit_name, attempt_status = row
    return Sitting(
        exam_id=exam_id,
        exam_name=name,
        mode=mode,
        time_limit_seconds=limit,
        ticket_no=ticket_no,
        cadre_name=cadre_name,
        unit_name=unit_name,
        focus_loss_limit=focus_limit,
        multiple_scoring=scoring,
        attempt_status=attempt_status,
    )


def nav_for(principal: Principal | None) -> list[tuple[str, str]]:
    if principal is None or principal.roles == frozenset({Role.examinee}):
        return []
    links: list[tuple[str, str]] = []
    if principal.has_any(Role.organiser, Role.bank_editor, Role.unit_admin):
        links.append(("/console/bank", "题库"))
    if principal.has_any(Role.organiser, Role.unit_admin):
        links += [("/console/units", "单位与名册"), ("/console/blueprints", "组卷规则")]
    if principal.has_any(Role.organiser, Role.unit_admin, Role.proctor):
        links.append(("/console/exams", "考试"))
    if principal.has_any(Role.proctor, Role.organiser):
        links.append(("/console/proctor", "监考登记"))
    if principal.has_any(Role.organiser, Role.unit_admin, Role.supervisor, Role.bank_editor):
        links.append(("/console/handbook", "手册"))
    if principal.has_any(Role.supervisor, Role.organiser, Role.unit_admin):
        links.append(("/dashboard", "统计分析"))
    if Role.admin in principal.roles:
        links += [("/console/users", "用户与角色"), ("/console/audit", "审计日志")]
    return links


def render(
    request: Request, template: str, *, principal: Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page shell with the user, his navigation and the current path."""
    roles = sorted(ROLE_LABELS[role] for role in principal.roles) if principal else []
    html = environment.get_template(template).render(
        request=request,
        principal=principal,
        role_labels=roles,
        nav=nav_for(principal),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
