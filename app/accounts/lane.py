"""Ticket login on the hot-path lane (``app.core.lane``): thousands of examinees log in in the same minute.

The lane settles only a correct admission-ticket PIN for an active, unlocked account with no failures
on record: one read of the user, one insert of the login session. Staff passwords (Argon2), wrong
PINs (the failure count and lockout) and everything else go to ``POST /api/auth/login`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from app.accounts.dependencies import set_session_cookie
from app.accounts.models import Role
from app.accounts.schemas import LoginRequest
from app.core.batches import Batches, Pending
from app.core.driver import DriverSQL, DriverValues
from app.core.lane import LaneCall, LaneReply, LaneRoute
from app.core.security import is_pin_hash, new_session_token, token_digest, verify_pin
from app.core.sqlite_writer import ReadThenWrite, fetchrow

_JSON = TypeAdapter(dict[str, Any])
SQLITE_VALUES = DriverValues("sqlite")

# The account of each username of the inputs ``i(username)``: one request's on SQLite, a batch's on
# PostgreSQL (``TicketHolderReads``).
TICKET_HOLDER_OF = """
    SELECT u.id, u.username, u.display_name, u.password_hash, u.is_active, u.failed_logins, u.locked_until,
      CAST(u.roles AS TEXT) AS roles, u.unit_id
    FROM {inputs} JOIN users u ON u.username = i.username
"""
TICKET_HOLDER = DriverSQL.of(TICKET_HOLDER_OF.format(inputs="(SELECT :username AS username) AS i"))

# SQLite: the session, if its user is still active (the read that found him held no lock).
OPEN_SESSION = DriverSQL.of(
    """
    INSERT INTO auth_sessions (token_digest, user_id, created_at, expires_at)
    SELECT :token_digest, :user_id, :now, :expires_at
    WHERE EXISTS (SELECT 1 FROM users WHERE id = :user_id AND is_active = :active)
    RETURNING user_id
    """
)


async def login(call: LaneCall) -> LaneReply | None:
    """``POST /api/auth/login`` with a ticket number and its correct PIN."""
    try:
        body = LoginRequest.model_validate_json(call.body)
    except ValidationError:
        return None
    settings, now = call.state.settings, call.state.clock.now()
    token = new_session_token()
    expires_at = now + timedelta(hours=settings.session_ttl_hours)
    check = partial(_pin_holder, pin=body.password, secret=settings.secret_key.get_secret_value())
    user: Any
    if call.is_sqlite:
        find = partial(_find_ticket_holder_on_sqlite, username=body.username, check=check)
        open_session = partial(_open_session_on_sqlite, token=token, now=now, expires_at=expires_at)
        user = await call.run_sqlite_job(ReadThenWrite(find, open_session))
    else:
        # Two single-statement steps, each batched with this process's other logins: the read, the insert.
        user = check(await call.batched(TicketHolderReads, Pending(body.username, (body.username,))))
        if user is not None:
            pending = Pending(token_digest(token), (token_digest(token), user["id"], now, expires_at))
            if await call.batched(SessionBatches, pending) is None:
                return None  # the account went away meanwhile: the route says so
    if user is None:
        return None
    cookie = Response()
    set_session_cookie(cookie, token, settings)
    roles = DriverValues.read_json_text(user["roles"])
    reply = {
        "access_token": token, "token_type": "bearer", "expires_at": expires_at,
        "user": {
            "id": user["id"], "username": user["username"], "roles": [str(Role(r)) for r in roles],
            "unit_id": user["unit_id"], "display_name": user["display_name"],
        },
    }  # fmt: skip
    headers = [(name, value) for name, value in cookie.raw_headers if name == b"set-cookie"]
    return LaneReply(_JSON.dump_json(reply), headers=headers)


def _pin_holder(user: Any, *, pin: str, secret: str) -> Any:
    """The user row when it is an active, unlocked ticket holder with no failures whose PIN matches."""
    if user is None or not user["is_active"] or user["failed_logins"] or user["locked_until"] is not None:
        return None
    if not is_pin_hash(user["password_hash"]) or not verify_pin(pin, user["password_hash"], secret):
        return None
    return user


def _find_ticket_holder_on_sqlite(connection: Any, *, username: str, check: Callable[[Any], Any]) -> Any:
    """SQLite, the read step (no lock held): the ticket holder, if his PIN is right."""
    return check(fetchrow(connection, TICKET_HOLDER.sqlite, {"username": username}))


def _open_session_on_sqlite(connection: Any, user: Any, *, token: str, now: datetime, expires_at: datetime) -> Any:
    """SQLite, the write step: his login session; None when he was deactivated meanwhile."""
    values = SQLITE_VALUES
    row = {
        "token_digest": token_digest(token), "user_id": user["id"], "now": values.time(now),
        "expires_at": values.time(expires_at), "active": values.flag(True),
    }  # fmt: skip
    return user if fetchrow(connection, OPEN_SESSION.sqlite, row) is not None else None


class TicketHolderReads(Batches):
    """PostgreSQL: the accounts of this process's ticket logins, read together (``app.core.batches``)."""

    statement = DriverSQL.of(
        "-- PostgreSQL only",
        postgresql=TICKET_HOLDER_OF.format(inputs="unnest(CAST(:usernames AS VARCHAR[])) AS i(username)"),
    )
    arrays = ("usernames",)
    key_column = "username"


class SessionBatches(Batches):
    """PostgreSQL: login sessions opened together (``app.core.batches``); an account that went away
    meanwhile is skipped, never an error for the whole batch."""

    statement = DriverSQL.of(
        "-- PostgreSQL only",
        postgresql="""
        INSERT INTO auth_sessions (token_digest, user_id, created_at, expires_at)
        SELECT i.token_digest, i.user_id, i.created_at, i.expires_at
        FROM unnest(CAST(:digests AS VARCHAR[]), CAST(:user_ids AS INTEGER[]), CAST(:nows AS TIMESTAMPTZ[]),
                    CAST(:expires AS TIMESTAMPTZ[])) AS i(token_digest, user_id, created_at, expires_at)
        JOIN users ON users.id = i.user_id AND users.is_active
        RETURNING token_digest
        """,
    )
    arrays = ("digests", "user_ids", "nows", "expires")
    key_column = "token_digest"


LANE_ROUTES = (LaneRoute("POST", "/api/auth/login", login),)
