"""Serving ``app/web/static`` safely: no path traversal, known content types, long caching when versioned."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from fastapi.responses import FileResponse, Response

STATIC_DIR = (Path(__file__).resolve().parent / "static").resolve()
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}
LONG_CACHE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=300"


def resolve_static(path: str) -> Path | None:
    """The file under the static folder that ``path`` names, or None when it is outside it or unknown."""
    if "\\" in path or "\x00" in path:
        return None
    candidate = (STATIC_DIR / path).resolve()
    if not candidate.is_relative_to(STATIC_DIR) or not candidate.is_file():
        return None
    if candidate.suffix.lower() not in CONTENT_TYPES and candidate.name != "LICENSE":
        return None
    return candidate


@lru_cache(maxsize=256)
def static_version(path: str) -> str:
    """A short content hash for cache busting (computed once per file per process)."""
    file = resolve_static(path)
    if file is None:
        return "0"
    return hashlib.sha256(file.read_bytes()).hexdigest()[:10]


def static_url(path: str) -> str:
    return f"/static/{path}?v={static_version(path)}"


def static_response(path: str, *, versioned: bool) -> Response:
    file = resolve_static(path)
    if file is None:
        return Response("not found", status_code=404, media_type="text/plain")
    media_type = CONTENT_TYPES.get(file.suffix.lower(), "text/plain; charset=utf-8")
    headers = {"Cache-Control": LONG_CACHE if versioned else SHORT_CACHE, "X-Content-Type-Options": "nosniff"}
    return FileResponse(file, media_type=media_type, headers=headers)
