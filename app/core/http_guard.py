"""The HTTP guard: what every request passes before the hot-path lane and the application see it, and
the headers every response carries.

- A state-changing request from another site (``Origin`` or ``Sec-Fetch-Site`` says so) is refused
  (403): session cookies are same-site already; this holds without relying on the browser for it.
- A body must be JSON or a multipart upload (415 otherwise): a cross-site page cannot send JSON without
  asking first, so a form or text body posted from elsewhere never reaches a route or the lane.
- An upload, or a body of unknown or large size, is read only once its caller is authenticated (401
  first), and JSON bodies are bounded (413).
- NUL characters and lone surrogates — which no database stores — are refused with 422 naming the
  field, in the path, the query or a JSON body, before any database call; so are integer query
  parameters beyond a 32-bit integer, and a path id that no row can have is not found (404).
- Responses carry CSP, X-Frame-Options, nosniff and Referrer-Policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.asgi_body import read_body

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_JSON_BODY = 2 * 1024 * 1024
SMALL_BODY = 64 * 1024  # read without authenticating first (a login, an autosave of 45 answers ~1 KB)
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


def _beyond_max_id(digits: str) -> bool:
    """Whether a decimal integer (sign allowed) is beyond ``MAX_ID`` either way, judged without converting
    a hostile ten-thousand-digit string (Python refuses to convert more than 4,300 digits)."""
    digits = digits.lstrip("+-").lstrip("0")
    return len(digits) > len(str(MAX_ID)) or (digits != "" and int(digits) > MAX_ID)


BODY_TYPES = ("application/json", "multipart/form-data")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)

Authenticate = Callable[[Scope], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    detail: Any

    def body(self) -> bytes:
        return json.dumps({"detail": self.detail}, ensure_ascii=False).encode()


def field_refusal(location: str, field: str, message: str) -> Refusal:
    loc: list[Any] = [location, *[part for part in field.split(".") if part]] if field else [location]
    return Refusal(422, [{"loc": loc, "msg": message, "type": "value_error"}])


NUL_MESSAGE = "不能包含空字符 (NUL is not allowed)"
SURROGATE_MESSAGE = "不能包含无效的 Unicode 字符 (a lone surrogate is not allowed)"


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return NUL_MESSAGE
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


class _HugeNumber(str):
    """A JSON integer of more digits than any column holds, kept as its text (``_parse_int``)."""


_HUGE_DIGITS = 20  # past any 64-bit integer (the largest has 19 digits)
_LONG_DIGITS = re.compile(rf"\d{{{_HUGE_DIGITS},}}")


def _parse_int(text: str) -> int | _HugeNumber:
    return _HugeNumber(text) if len(text.lstrip("-")) >= _HUGE_DIGITS else int(text)


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a parsed JSON document (keys too) with its dotted path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield path, str(key)
            yield from _strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}" if path else str(index))


def check_json_body(body: bytes) -> Refusal | None:
    """422 naming the field when a JSON body holds text no database stores; None otherwise (a body that
    is not JSON is left to the route's own validation)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return field_refusal("body", "", "请求体不是有效的 UTF-8 (the body is not valid UTF-8)")
    long_number = _LONG_DIGITS.search(text) is not None
    if "\\u" not in text and not long_number:
        return None  # raw NUL is not valid JSON, and valid UTF-8 holds no surrogates: only escapes can
    try:
        document = json.loads(text, parse_int=_parse_int)
    except ValueError:
        return None
    for path, value in _strings(document):
        if isinstance(value, _HugeNumber):
            return field_refusal("body", path, OUT_OF_RANGE)
        message = _bad_text(value)
        if message is not None:
            return field_refusal("body", path, message)
    return None


INTEGER = re.compile(r"^[+-]?\d+$")
OUT_OF_RANGE = "超出允许范围 (out of range)"


def check_target(scope: Scope, integer_params: Callable[[], frozenset[str]] = frozenset) -> Refusal | None:
    """The path and the query: NUL and lone surrogates refused, ids beyond any row not found, integer
    query parameters (the names ``integer_params()`` gives, asked only when a value is out of range)
    beyond a 32-bit integer refused."""
    path: str = scope.get("path", "")
    if _bad_text(path) is not None:
        return field_refusal("path", "", _bad_text(path) or "")
    if any(part.isdigit() and _beyond_max_id(part) for part in path.split("/") if part.isascii()):
        return Refusal(404, "未找到 (not found)")
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        for text in (name, value):
            message = _bad_text(text)
            if message is not None:
                return field_refusal("query", name if text is value else "", message)
        if INTEGER.match(value) and _beyond_max_id(value) and name in integer_params():
            return field_refusal("query", name, OUT_OF_RANGE)
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def check_origin(scope: Scope) -> Refusal | None:
    """A state-changing request sent by a page of another site."""
    refusal = Refusal(403, "拒绝来自其他站点的请求 (cross-site request refused)")
    if (_header(scope, b"sec-fetch-site") or "").lower() == "cross-site":
        return refusal
    origin = _header(scope, b"origin")
    if origin is None:
        return None
    host = _header(scope, b"host")
    if origin == "null" or host is None or urlsplit(origin).netloc.lower() != host.lower():
        return refusal
    return None


def _content_type(scope: Scope) -> str:
    return (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()


def _declared_length(scope: Scope) -> int | None:
    length = _header(scope, b"content-length")
    return int(length) if length is not None and length.isdigit() else None


async def _send_refusal(send: Send, refusal: Refusal) -> None:
    body = refusal.body()
    await send({
        "type": "http.response.start", "status": refusal.status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    *SECURITY_HEADERS],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class HttpGuard:
    """Wraps the whole application (ahead of the lane); ``authenticate`` tells whether a request's
    session token is valid, for requests whose body is read only after that."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticate: Authenticate,
        public_paths: frozenset[str],
        integer_params: Callable[[], frozenset[str]],
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.public_paths = public_paths
        self._integer_params = integer_params
        self._integers: frozenset[str] | None = None

    def integer_params(self) -> frozenset[str]:
        if self._integers is None:
            self._integers = self._integer_params()
        return self._integers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = check_target(scope, self.integer_params)
        if refusal is None and scope.get("method", "GET") in UNSAFE_METHODS:
            refusal = check_origin(scope)
            if refusal is None:
                refusal, receive = await self._check_body(scope, receive)
        if refusal is not None:
            await _send_refusal(send, refusal)
            return
        await self.app(scope, receive, _with_headers(send))

    async def _check_body(self, scope: Scope, receive: Receive) -> tuple[Refusal | None, Receive]:
        length = _declared_length(scope)
        chunked = "chunked" in (_header(scope, b"transfer-encoding") or "").lower()
        if length == 0 or (length is None and not chunked):
            return None, receive
        content_type = _content_type(scope)
        if content_type not in BODY_TYPES:
            return Refusal(415, "请求体须为 JSON 或文件上传 (send JSON or a multipart upload)"), receive
        large = length is None or length > SMALL_BODY or content_type != "application/json"
        if large and scope["path"] not in self.public_paths and not await self.authenticate(scope):
            return Refusal(401, "not authenticated"), receive
        if content_type != "application/json":
            return None, receive
        if length is not None and length > MAX_JSON_BODY:
            return Refusal(413, f"请求体过大，上限 {MAX_JSON_BODY // 1024} KB (the body is too large)"), receive
        buffered = await read_body(receive, MAX_JSON_BODY)
        if buffered.body is None:
            return Refusal(413, f"请求体过大，上限 {MAX_JSON_BODY // 1024} KB (the body is too large)"), receive
        return check_json_body(buffered.body), buffered.replaying(receive)


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {bytes(name).lower() for name, _ in message.get("headers", ())}
            extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return sending
