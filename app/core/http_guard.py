"""The HTTP guard: what every request passes before the hot-path lane and the application see it, and
the headers every response carries (both applied by the application's front, ``app.core.lane``).

- A state-changing request from another site (``Origin`` or ``Sec-Fetch-Site`` says so) is refused
  (403): session cookies are same-site already; this holds without relying on the browser for it.
- A body must be JSON or a multipart upload (415 otherwise): a cross-site page cannot send JSON without
  asking first, so a form or text body posted from elsewhere never reaches a route or the lane.
- An upload, or a body of unknown or large size, is read only once its caller is authenticated (401
  first), and JSON bodies are bounded (413).
- NUL characters and lone surrogates — which no database stores — are refused with 422 naming the
  field, in the path, the query or a JSON body, before any database call; so are integer query
  parameters beyond a 32-bit integer, and a path id that no row can have is not found (404).
- Responses carry CSP (a page's policy for HTML, ``default-src 'none'`` for anything else),
  X-Frame-Options, nosniff and Referrer-Policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.types import Message, Receive, Scope, Send

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
# Anything but a page (JSON, files, scripts) loads nothing and is framed nowhere (OWASP's REST Security
# Cheat Sheet); a shorter header too, which the server checks byte by byte on every reply.
RESOURCE_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
_OTHER_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
SECURITY_HEADERS = ((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()), *_OTHER_HEADERS)  # a page's
RESOURCE_SECURITY_HEADERS = ((b"content-security-policy", RESOURCE_SECURITY_POLICY.encode()), *_OTHER_HEADERS)

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
_LONG_DIGITS = re.compile(rf"[0-9]{{{_HUGE_DIGITS},}}".encode())


def _has_long_number(body: bytes) -> bool:
    # Counting the digits first (in C) spares the regular expression's scan of most bodies.
    digits = len(body) - len(body.translate(None, b"0123456789"))
    return digits >= _HUGE_DIGITS and _LONG_DIGITS.search(body) is not None


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
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return field_refusal("body", "", "请求体不是有效的 UTF-8 (the body is not valid UTF-8)")
    # Raw NUL is not valid JSON, and valid UTF-8 holds no surrogates: only escapes can carry them. (Not
    # ``b"\\u" in body``: bytes' ``in`` first tries its operand as an integer and clears a TypeError.)
    if body.find(b"\\u") < 0 and not _has_long_number(body):
        return None
    try:
        document = json.loads(body, parse_int=_parse_int)
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
_LONG_SEGMENT = re.compile(r"(?:^|/)([0-9]{10,})(?=/|$)")  # a path id of 10 digits or more: maybe beyond MAX_ID


def check_target(scope: Scope, integer_params: Callable[[], frozenset[str]] = frozenset) -> Refusal | None:
    """The path and the query: NUL and lone surrogates refused, ids beyond any row not found, integer
    query parameters (the names ``integer_params()`` gives, asked only when a value is out of range)
    beyond a 32-bit integer refused."""
    refusal = _path_refusal(scope.get("path", ""))
    query = scope.get("query_string", b"")
    if refusal is None and query:
        refusal = _query_refusal(query, integer_params)
    return refusal


@lru_cache(maxsize=65_536)  # judged once per path: an examinee sends many saves to the same one
def _path_refusal(path: str) -> Refusal | None:
    message = _bad_text(path)
    if message is not None:
        return field_refusal("path", "", message)
    if any(_beyond_max_id(id_.group(1)) for id_ in _LONG_SEGMENT.finditer(path)):
        return Refusal(404, "未找到 (not found)")
    return None


def _query_refusal(query: bytes, integer_params: Callable[[], frozenset[str]]) -> Refusal | None:
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        for text in (name, value):
            message = _bad_text(text)
            if message is not None:
                return field_refusal("query", name if text is value else "", message)
        if INTEGER.match(value) and _beyond_max_id(value) and name in integer_params():
            return field_refusal("query", name, OUT_OF_RANGE)
    return None


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by name, the first of each name (as the guard has always read them)."""
    headers = scope.get("headers", ())
    return dict(reversed(headers if isinstance(headers, list | tuple) else list(headers)))


def check_origin(headers: dict[bytes, bytes]) -> Refusal | None:
    """A state-changing request sent by a page of another site."""
    site, origin = headers.get(b"sec-fetch-site"), headers.get(b"origin")
    if site is None and origin is None:
        return None
    return _origin_refusal(site, origin, headers.get(b"host"))


@lru_cache(maxsize=1024)  # a deployment is reached by few origins and hosts
def _origin_refusal(site: bytes | None, origin: bytes | None, host: bytes | None) -> Refusal | None:
    if site is not None and site.decode("latin-1").lower() == "cross-site":
        return _CROSS_SITE
    if origin is None:
        return None
    origin_text = origin.decode("latin-1")
    if origin_text == "null" or host is None:
        return _CROSS_SITE
    if urlsplit(origin_text).netloc.lower() != host.decode("latin-1").lower():
        return _CROSS_SITE
    return None


_CROSS_SITE = Refusal(403, "拒绝来自其他站点的请求 (cross-site request refused)")


def _content_type(headers: dict[bytes, bytes]) -> str:
    raw = headers.get(b"content-type")
    if raw == b"application/json":
        return "application/json"
    return (raw or b"").decode("latin-1").split(";", 1)[0].strip().lower()


def _declared_length(headers: dict[bytes, bytes]) -> int | None:
    length = headers.get(b"content-length")
    return int(length) if length is not None and length.isdigit() else None


async def send_refusal(send: Send, refusal: Refusal) -> None:
    body = refusal.body()
    await send({
        "type": "http.response.start", "status": refusal.status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def with_security_headers(message: Message) -> Message:
    """A response's start message with the security headers it does not set itself: a page's policy for
    HTML, the resource policy for anything else."""
    headers = message.get("headers", ())
    page, own = False, False
    for name, value in headers:
        name = bytes(name).lower()
        if name == b"content-type":
            page = bytes(value).lower().startswith(b"text/html")
        elif name in _SECURITY_NAMES:
            own = True
    chosen: tuple[tuple[bytes, bytes], ...] = SECURITY_HEADERS if page else RESOURCE_SECURITY_HEADERS
    if own:
        present = {bytes(name).lower() for name, _ in headers}
        chosen = tuple((name, value) for name, value in chosen if name not in present)
    return {**message, "headers": [*headers, *chosen]}


_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


# Where the guard leaves a JSON body it read whole (the lane takes it from there instead of reading the
# replayed messages again).
BODY = "exambank.body"


class HttpGuard:
    """The checks every HTTP request passes first (``app.core.lane.LaneApplication`` runs them, and adds
    ``SECURITY_HEADERS`` to every response); ``authenticate`` tells whether a request's session token is
    valid, for requests whose body is read only after that."""

    def __init__(
        self,
        *,
        authenticate: Authenticate,
        public_paths: frozenset[str],
        integer_params: Callable[[], frozenset[str]],
    ) -> None:
        self.authenticate = authenticate
        self.public_paths = public_paths
        self._integer_params = integer_params
        self._integers: frozenset[str] | None = None

    def integer_params(self) -> frozenset[str]:
        if self._integers is None:
            self._integers = self._integer_params()
        return self._integers

    async def check(self, scope: Scope, receive: Receive) -> tuple[Refusal | None, Receive]:
        """The refusal of the request, if any, and the ``receive`` the application is to read its body
        with (the body read here, replayed)."""
        refusal = check_target(scope, self.integer_params)
        if refusal is None and scope["method"] in UNSAFE_METHODS:
            headers = _headers(scope)
            refusal = check_origin(headers)
            if refusal is None:
                refusal, receive = await self._check_body(scope, headers, receive)
        return refusal, receive

    async def _check_body(
        self, scope: Scope, headers: dict[bytes, bytes], receive: Receive
    ) -> tuple[Refusal | None, Receive]:
        length = _declared_length(headers)
        chunked = (headers.get(b"transfer-encoding") or b"").lower().find(b"chunked") >= 0
        if length == 0 or (length is None and not chunked):
            return None, receive
        content_type = _content_type(headers)
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
        if buffered.complete:
            scope[BODY] = buffered.body
        return check_json_body(buffered.body), buffered.replaying(receive)
