"""Ticket login on the hot-path lane (``app.core.lane``): thousands of examinees log in in the same minute.

The lane settles only a correct admission-ticket PIN for an active, unlocked account with no failures
on record: one read of the user, one insert of the login session. Staff passwords (Argon2), wrong
PINs (the failure count and lockout) and everything else go to ``POST /api/auth/login`` unchanged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from app.accounts.dependencies import set_session_cookie
from app.accounts.models import Role
from app.accounts.schemas import LoginRequest
from app.core.driver import DriverSQL, driver_for
from app.core.lane import LaneCall, LaneReply, LaneRoute
from app.core.security import is_pin_hash, new_session_token, token_digest, verify_pin

_JSON = TypeAdapter(dict[str, Any])

TICKET_HOLDER = DriverSQL.of(
    """
    SELECT id, username, display_name, password_hash, is_active, failed_logins, locked_until,
      CAST(roles AS TEXT) AS roles, unit_id
    FROM users WHERE username = :username
    """
)

OPEN_SESSION = DriverSQL.of(
    """
    INSERT INTO auth_sessions (token_digest, user_id, created_at, expires_at)
    VALUES (:token_digest, :user_id, :now, :expires_at)
    """
)


async def login(call: LaneCall) -> LaneReply | None:
    """``POST /api/auth/login`` with a ticket number and its correct PIN."""
    try:
        body = LoginRequest.model_validate_json(call.body)
    except ValidationError:
        return None
    # Two single-statement steps: the read, then the insert (whose foreign key re-checks the user).
    driver = await driver_for(call.session, transaction=False)
    values = driver.values
    user = await driver.fetchrow(TICKET_HOLDER, {"username": body.username})
    if user is None or not user["is_active"] or user["failed_logins"] or user["locked_until"] is not None:
        return None
    settings = call.state.settings
    if not is_pin_hash(user["password_hash"]) or not verify_pin(
        body.password, user["password_hash"], settings.secret_key.get_secret_value()
    ):
        return None
    now = call.state.clock.now()
    token = new_session_token()
    expires_at = now + timedelta(hours=settings.session_ttl_hours)
    await driver.execute(
        OPEN_SESSION,
        {
            "token_digest": token_digest(token), "user_id": user["id"], "now": values.time(now),
            "expires_at": values.time(expires_at),
        },
    )  # fmt: skip
    cookie = Response()
    set_session_cookie(cookie, token, settings)
    roles = values.read_json_text(user["roles"])
    reply = {
        "access_token": token, "token_type": "bearer", "expires_at": expires_at,
        "user": {
            "id": user["id"], "username": user["username"], "roles": [str(Role(r)) for r in roles],
            "unit_id": user["unit_id"], "display_name": user["display_name"],
        },
    }  # fmt: skip
    headers = [(name, value) for name, value in cookie.raw_headers if name == b"set-cookie"]
    return LaneReply(_JSON.dump_json(reply), headers=headers)


LANE_ROUTES = (LaneRoute("POST", "/api/auth/login", login),)
