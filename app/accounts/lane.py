"""Ticket login on the hot-path lane (``app.core.lane``): thousands of examinees log in in the same minute.

The lane settles only a correct admission-ticket PIN for an active, unlocked account with no failures
on record (``login_rules.lane_settles``): one read of the user, one insert of the login session, the
statements of ``app.accounts.login_rules`` that the route runs too. Staff passwords (Argon2), wrong PINs
(the failure count and lockout) and everything else go to ``POST /api/auth/login`` unchanged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from app.accounts import login_rules
from app.accounts.dependencies import set_session_cookie
from app.accounts.login_rules import Account
from app.accounts.models import Role
from app.accounts.schemas import LoginRequest
from app.core.batches import Batches, Pending
from app.core.driver import DriverValues
from app.core.lane import LaneCall, LaneReply, LaneRoute
from app.core.security import new_session_token, token_digest
from app.core.sqlite_writer import ReadThenWrite, fetchrow

_JSON = TypeAdapter(dict[str, Any])
SQLITE_VALUES = DriverValues("sqlite")
POSTGRES_VALUES = DriverValues("postgresql")


async def login(call: LaneCall) -> LaneReply | None:
    """``POST /api/auth/login`` with a ticket number and its correct PIN (a JSON body: the HTTP guard,
    ``app.core.http_guard``, refuses any other before the lane)."""
    try:
        body = LoginRequest.model_validate_json(call.body)
    except ValidationError:
        return None
    settings, now = call.state.settings, call.state.clock.now()
    token = new_session_token()
    expires_at = now + timedelta(hours=settings.session_ttl_hours)
    settles = partial(login_rules.lane_settles, pin=body.password, secret=settings.secret_key.get_secret_value(),
                      now=now)  # fmt: skip
    account: Account | None
    if call.is_sqlite:
        find = partial(_find_ticket_holder_on_sqlite, username=body.username, now=now, settles=settles)
        open_session = partial(_open_session_on_sqlite, token=token, now=now, expires_at=expires_at)
        account = await call.run_sqlite_job(ReadThenWrite(find, open_session))
    else:
        # Two single-statement steps, each batched with this process's other logins: the read, the insert.
        row = await call.batched(TicketHolderReads, Pending(body.username, (body.username,)))
        account = Account.of(row, POSTGRES_VALUES) if row is not None else None
        if not settles(account):
            return None
        assert account is not None
        pending = Pending(token_digest(token), (token_digest(token), account.id, now, expires_at))
        if await call.batched(SessionBatches, pending) is None:
            return None  # the account went away meanwhile: the route says so
    if account is None:
        return None
    cookie = Response()
    set_session_cookie(cookie, token, settings)
    reply = {
        "access_token": token, "token_type": "bearer", "expires_at": expires_at,
        "user": {
            "id": account.id, "username": account.username, "roles": [str(Role(r)) for r in account.roles],
            "unit_id": account.unit_id, "display_name": account.display_name,
        },
    }  # fmt: skip
    headers = [(name, value) for name, value in cookie.raw_headers if name == b"set-cookie"]
    return LaneReply(_JSON.dump_json(reply), headers=headers)


def _find_ticket_holder_on_sqlite(connection: Any, *, username: str, now: datetime, settles: Any) -> Account | None:
    """SQLite, the read step (no lock held): the ticket holder, if the lane settles his login."""
    row = fetchrow(connection, login_rules.ACCOUNT_SQL.sqlite, {"username": username})
    account = Account.of(row, SQLITE_VALUES) if row is not None else None
    return account if settles(account) else None


def _open_session_on_sqlite(
    connection: Any, account: Account, *, token: str, now: datetime, expires_at: datetime
) -> Account | None:
    """SQLite, the write step: his login session; None when he was deactivated meanwhile."""
    values = SQLITE_VALUES
    row = {
        "token_digest": token_digest(token), "user_id": account.id, "created_at": values.time(now),
        "expires_at": values.time(expires_at), "active": values.flag(True),
    }  # fmt: skip
    return account if fetchrow(connection, login_rules.OPEN_SESSION_SQL.sqlite, row) is not None else None


class TicketHolderReads(Batches):
    """PostgreSQL: the accounts of this process's ticket logins, read together (``app.core.batches``)."""

    statement = login_rules.ACCOUNTS_SQL
    arrays = ("usernames",)
    key_column = "username"


class SessionBatches(Batches):
    """PostgreSQL: login sessions opened together (``app.core.batches``); an account that went away
    meanwhile is skipped, never an error for the whole batch."""

    statement = login_rules.OPEN_SESSIONS_SQL
    arrays = ("digests", "user_ids", "nows", "expires")
    key_column = "token_digest"


LANE_ROUTES = (LaneRoute("POST", "/api/auth/login", login),)
