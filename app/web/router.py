"""Server-rendered page shells (Jinja2) and the vendored static files; the pages call the JSON API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts import service as accounts_service
from app.accounts.dependencies import SESSION_COOKIE
from app.accounts.models import Role
from app.accounts.principal import Principal
from app.core.deps import ClockDep, SessionDep
from app.core.paging import Page
from app.core.security import safe_next_path
from app.exams import service as exams_service
from app.web import pages
from app.web.static_files import static_response

router = APIRouter(tags=["web"], include_in_schema=False)

CONSOLE_ROLES = (Role.organiser, Role.bank_editor, Role.proctor, Role.unit_admin)
# A bank editor has no business with exams: their pages would only show refusals.
EXAM_PAGE_ROLES = (Role.organiser, Role.proctor, Role.unit_admin)
EXAM_VIEW_ROLES = (Role.organiser, Role.proctor, Role.unit_admin, Role.supervisor)
DASHBOARD_ROLES = (Role.supervisor, Role.organiser, Role.unit_admin)


async def optional_principal(request: Request, session: SessionDep, clock: ClockDep) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await accounts_service.resolve_token(session, token, clock.now())


PagePrincipal = Annotated[Principal | None, Depends(optional_principal)]


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={target}", status_code=303)


def home_for(principal: Principal) -> str:
    """The page a user lands on after login, by role."""
    if principal.is_examinee_only or principal.roles == frozenset({Role.examinee}):
        return "/exam"
    if principal.has_any(Role.organiser):
        return "/console"
    if principal.has_any(Role.bank_editor):
        return "/console/bank"
    if principal.has_any(Role.supervisor):
        return "/dashboard"
    if principal.has_any(Role.proctor):
        return "/console/proctor"
    if principal.has_any(Role.unit_admin):
        return "/dashboard"
    return "/login"


def _page(request: Request, template: str, principal: Principal | None, **context: Any) -> HTMLResponse:
    return pages.render(request, template, principal=principal, **context)


@router.api_route("/static/{path:path}", methods=["GET", "HEAD"])
async def static(path: str, request: Request) -> Response:
    return static_response(path, versioned="v" in request.query_params)


@router.get("/")
async def landing(request: Request, principal: PagePrincipal) -> Response:
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_for(principal), status_code=303)


@router.get("/login")
async def login_page(request: Request, principal: PagePrincipal, next: str = "") -> Response:
    return _page(request, "login.html", principal, next_url=safe_next_path(next))


@router.get("/exam")
async def exam_room(request: Request, principal: PagePrincipal, session: SessionDep) -> Response:
    if principal is None:
        return _login_redirect(request)
    sitting = await pages.find_sitting(session, principal.id)
    grace = request.app.state.settings.save_grace_seconds
    return _page(request, "exam.html", principal, sitting=sitting, grace_seconds=grace)


def _staff_page(
    request: Request, principal: Principal | None, roles: tuple[Role, ...], template: str, **context: Any
) -> Response:
    if principal is None:
        return _login_redirect(request)
    if not principal.has_any(*roles):
        return _page(request, "forbidden.html", principal, status_code=403)
    return _page(request, template, principal, **context)


@router.get("/console")
async def console_home(request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, CONSOLE_ROLES, "console/home.html")


@router.get("/console/partials/exams")
async def console_exams_partial(
    request: Request, principal: PagePrincipal, session: SessionDep, clock: ClockDep
) -> Response:
    """The recent exams as an HTML fragment for the console home (fetched and refreshed by htmx)."""
    if principal is None:
        return Response(status_code=401)
    if not principal.has_any(*EXAM_VIEW_ROLES):
        return Response(status_code=403)
    rows, _total = await exams_service.list_exams(session, principal=principal, status=None, mode=None, page=Page(10))
    now = clock.now()
    exams = [(exam, len(units), exams_service.exam_phase(exam, now)) for exam, units in rows]
    return _page(request, "console/_exams.html", principal, exams=exams)


@router.get("/console/bank")
async def console_bank(request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, (Role.bank_editor, Role.organiser, Role.unit_admin), "console/bank.html")


@router.get("/console/units")
async def console_units(request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, (Role.organiser, Role.unit_admin), "console/units.html")


@router.get("/console/handbook")
async def console_handbook(request: Request, principal: PagePrincipal, unit_id: int | None = None) -> Response:
    roles = (Role.organiser, Role.unit_admin, Role.supervisor, Role.bank_editor)
    chosen = unit_id if unit_id is not None else (principal.unit_id if principal else None)
    return _staff_page(request, principal, roles, "console/handbook.html", unit_id=chosen)


@router.get("/learning")
async def learning_page(request: Request, principal: PagePrincipal) -> Response:
    """The examinee's own history, 错题本 and review drills."""
    if principal is None:
        return _login_redirect(request)
    return _page(request, "learning.html", principal)


@router.get("/console/blueprints")
async def console_blueprints(request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, (Role.organiser,), "console/blueprints.html")


@router.get("/console/exams")
async def console_exams(request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, EXAM_PAGE_ROLES, "console/exams.html")


@router.get("/console/exams/new")
async def console_exam_wizard(request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, (Role.organiser, Role.unit_admin), "console/wizard.html")


@router.get("/console/exams/{exam_id}")
async def console_exam(exam_id: int, request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, EXAM_PAGE_ROLES, "console/exam.html", exam_id=exam_id)


@router.get("/console/exams/{exam_id}/tickets")
async def console_tickets(exam_id: int, request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, (Role.organiser, Role.unit_admin), "console/tickets.html", exam_id=exam_id)


@router.get("/console/exams/{exam_id}/monitor")
async def console_monitor(exam_id: int, request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, EXAM_PAGE_ROLES, "console/monitor.html", exam_id=exam_id)


@router.get("/console/proctor")
async def console_proctor(request: Request, principal: PagePrincipal, exam_id: int | None = None) -> Response:
    return _staff_page(request, principal, (Role.proctor, Role.organiser), "console/proctor.html", exam_id=exam_id)


@router.get("/console/users")
async def console_users(request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, (Role.admin,), "console/users.html")


@router.get("/console/audit")
async def console_audit(request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, (Role.admin,), "console/audit.html")


@router.get("/dashboard")
async def dashboard_home(request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, DASHBOARD_ROLES, "dashboard/home.html")


@router.get("/dashboard/exams/{exam_id}")
async def dashboard_exam(exam_id: int, request: Request, principal: PagePrincipal) -> Response:
    live = principal is not None and principal.has_any(Role.supervisor, Role.organiser)
    return _staff_page(
        request, principal, DASHBOARD_ROLES, "dashboard/report.html", exam_id=exam_id, sees_live_ranking=live
    )


@router.get("/dashboard/exams/{exam_id}/notice")
async def dashboard_notice(exam_id: int, request: Request, principal: PagePrincipal) -> Response:
    return _staff_page(request, principal, DASHBOARD_ROLES, "dashboard/notice.html", exam_id=exam_id)
