"""Password, PIN and session-token hashing.

Staff passwords use Argon2 (run in a worker thread: it is deliberately slow). Admission-ticket PINs
are short random numbers printed on paper; thousands are checked in the same minute, so they use a
keyed HMAC-SHA256 with a per-ticket salt: without the server secret a stolen hash cannot be tested
offline, and the per-account lockout stops guessing online. Ticket numbers carry a random part, so
nobody can name another examinee's ticket to lock it with wrong PINs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_password_hash = PasswordHash((Argon2Hasher(),))


def hash_password_sync(password: str) -> str:
    return _password_hash.hash(password)


async def hash_password(password: str) -> str:
    """Argon2 hash of a password, computed off the event loop."""
    return await anyio.to_thread.run_sync(_password_hash.hash, password)


async def verify_password(password: str, password_hash: str) -> bool:
    """Whether the password matches its Argon2 hash, checked off the event loop."""
    return await anyio.to_thread.run_sync(_password_hash.verify, password, password_hash)


PIN_SCHEME = "hmac-sha256"


def hash_pin(pin: str, secret: str) -> str:
    """A salted, keyed hash of an admission-ticket PIN."""
    salt = secrets.token_hex(8)
    digest = hmac.new(secret.encode(), f"{salt}:{pin}".encode(), hashlib.sha256).hexdigest()
    return f"{PIN_SCHEME}${salt}${digest}"


def verify_pin(pin: str, stored: str, secret: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$", 2)
    except ValueError:
        return False
    if scheme != PIN_SCHEME:
        return False
    expected = hmac.new(secret.encode(), f"{salt}:{pin}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, digest)


def is_pin_hash(stored: str) -> bool:
    return stored.startswith(PIN_SCHEME + "$")


def new_pin(digits: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


# Admission-ticket numbers: exam-unit-sequence-random (``app.exams.admission.participants.ticket_number``).
TICKET_SUFFIX_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read off paper
TICKET_SHAPE = re.compile(r"^\d{4,}-\d{3,}-\d{4,}-[" + TICKET_SUFFIX_ALPHABET + r"]{4}$")


def new_ticket_suffix(length: int = 4) -> str:
    """The random part of a ticket number: 32⁴ ≈ 10⁶ possibilities per ticket."""
    return "".join(secrets.choice(TICKET_SUFFIX_ALPHABET) for _ in range(length))


def looks_like_ticket(username: str) -> bool:
    return TICKET_SHAPE.match(username) is not None


def safe_next_path(target: str) -> str:
    """``target`` when it is a path on this site, else "". Browsers drop tabs and newlines and read
    a backslash as a slash, so "/\t/evil.example" or "/\\evil.example" would leave the site."""
    if not target.startswith("/") or any(ord(c) < 0x21 or c in "\\\x7f" for c in target):
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return ""
    return target


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database keeps of a session token: a stolen table gives no usable tokens."""
    return hashlib.sha256(token.encode()).hexdigest()
