"""The login rules, written once: which account a username names, whether it may log in now, how a
failure is counted and how a session is opened.

``POST /api/auth/login`` (``app.accounts.service.login``) and the hot-path lane (``app.accounts.lane``)
both call these. Each statement is one SQL template: ``{inputs}`` is a single row for the route and the
SQLite lane, the ``unnest`` of a batch on the PostgreSQL lane. A failure is counted by one ``UPDATE``
that increments in SQL, so wrong passwords or PINs sent in parallel are all counted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.core.driver import DriverSQL, DriverValues
from app.core.security import is_pin_hash, verify_pin

ACCOUNT_OF = """
    SELECT u.id, u.username, u.display_name, u.password_hash, u.is_active, u.failed_logins, u.locked_until,
      CAST(u.roles AS TEXT) AS roles, u.unit_id
    FROM {inputs} JOIN users u ON u.username = i.username
"""
# The account of one username (the route; the SQLite lane) and of a batch's (the PostgreSQL lane).
ACCOUNT = ACCOUNT_OF.format(inputs="(SELECT :username AS username) AS i")
ACCOUNTS = ACCOUNT_OF.format(inputs="unnest(CAST(:usernames AS VARCHAR[])) AS i(username)")

# A session is opened only while its user is still active (the read that found him held no lock).
OPEN_SESSION_OF = """
    INSERT INTO auth_sessions (token_digest, user_id, created_at, expires_at)
    SELECT i.token_digest, i.user_id, i.created_at, i.expires_at
    FROM {inputs} JOIN users ON users.id = i.user_id AND users.is_active = {active}
    RETURNING token_digest
"""
_ONE_SESSION = (
    "(SELECT CAST(:token_digest AS VARCHAR) AS token_digest, CAST(:user_id AS INTEGER) AS user_id, "
    "CAST(:created_at AS {time}) AS created_at, CAST(:expires_at AS {time}) AS expires_at) AS i"
)
# SQLite keeps times as text (a cast to a timestamp type would make them numbers there).
OPEN_SESSION = {
    dialect: OPEN_SESSION_OF.format(inputs=_ONE_SESSION.format(time=time), active=":active")
    for dialect, time in (("sqlite", "TEXT"), ("postgresql", "TIMESTAMPTZ"))
}
OPEN_SESSIONS = OPEN_SESSION_OF.format(
    inputs="unnest(CAST(:digests AS VARCHAR[]), CAST(:user_ids AS INTEGER[]), CAST(:nows AS TIMESTAMPTZ[]), "
    "CAST(:expires AS TIMESTAMPTZ[])) AS i(token_digest, user_id, created_at, expires_at)",
    active="TRUE",
)

# One failure more, counted in SQL; the count that reaches the limit locks the account and starts afresh.
RECORD_FAILURE = """
    UPDATE users SET
      failed_logins = CASE WHEN failed_logins + 1 >= :max_failures THEN 0 ELSE failed_logins + 1 END,
      locked_until = CASE WHEN failed_logins + 1 >= :max_failures THEN :locked_until ELSE locked_until END
    WHERE id = :user_id
    RETURNING failed_logins, locked_until
"""
CLEAR_FAILURES = "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = :user_id"

# The same statements for the driver-level connections of the lane.
ACCOUNT_SQL = DriverSQL.of(ACCOUNT)
ACCOUNTS_SQL = DriverSQL.of("-- PostgreSQL only", postgresql=ACCOUNTS)
OPEN_SESSION_SQL = DriverSQL.of(OPEN_SESSION["sqlite"], postgresql=OPEN_SESSION["postgresql"])
OPEN_SESSIONS_SQL = DriverSQL.of("-- PostgreSQL only", postgresql=OPEN_SESSIONS)


class LoginVerdict(enum.StrEnum):
    """What the account's row alone says of a login attempt, before any credential is checked."""

    unknown = "unknown"  # no such user, or deactivated
    locked = "locked"
    ticket = "ticket"  # an admission ticket: its PIN is checked (HMAC, cheap)
    password = "password"  # noqa: S105 - a staff account: its Argon2 password is checked off the event loop


@dataclass(slots=True)  # made per request: not frozen, whose __init__ costs several times more
class Account:
    """The account a username names, as the login reads it."""

    id: int
    username: str
    display_name: str | None
    password_hash: str
    is_active: bool
    failed_logins: int
    locked_until: datetime | None
    roles: list[str]
    unit_id: int | None

    @classmethod
    def of(cls, row: Any, values: DriverValues) -> Account:
        roles = row["roles"]
        return cls(
            id=row["id"],
            username=row["username"],
            display_name=row["display_name"],
            password_hash=row["password_hash"],
            is_active=bool(row["is_active"]),
            failed_logins=int(row["failed_logins"] or 0),
            locked_until=values.read_time(row["locked_until"]),
            roles=list(DriverValues.read_json_text(roles) if isinstance(roles, str) else roles),
            unit_id=row["unit_id"],
        )

    @property
    def has_failures(self) -> bool:
        return bool(self.failed_logins) or self.locked_until is not None


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    """Whether an account is locked out now (too many wrong passwords or PINs): the login refuses it and the
    proctors' monitor offers to unlock it."""
    return locked_until is not None and locked_until > now


def verdict(account: Account | None, now: datetime) -> LoginVerdict:
    """The rule before credentials: unknown and inactive accounts fail alike; a locked one is refused."""
    if account is None or not account.is_active:
        return LoginVerdict.unknown
    if is_locked(account.locked_until, now):
        return LoginVerdict.locked
    return LoginVerdict.ticket if is_pin_hash(account.password_hash) else LoginVerdict.password


def pin_matches(account: Account, pin: str, secret: str) -> bool:
    return verify_pin(pin, account.password_hash, secret)


def lane_settles(account: Account | None, *, pin: str, secret: str, now: datetime) -> bool:
    """Whether the lane may open the session itself: a ticket holder with nothing on record whose PIN
    is right. Every other case (a staff password, a wrong PIN, a failure to clear) is the route's."""
    return (
        account is not None
        and verdict(account, now) is LoginVerdict.ticket
        and not account.has_failures
        and pin_matches(account, pin, secret)
    )
