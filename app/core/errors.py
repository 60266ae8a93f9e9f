"""Errors that carry their own HTTP status; the handler in ``app.main`` turns them into ``{"detail": ...}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class AppError(Exception):
    status_code = 400

    def __init__(self, detail: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail


class BadRequestError(AppError):
    status_code = 400


class UnauthorizedError(AppError):
    status_code = 401


class ForbiddenError(AppError):
    status_code = 403


class NotFoundError(AppError):
    status_code = 404


class ConflictError(AppError):
    status_code = 409


class UnprocessableError(AppError):
    status_code = 422


class TooManyRequestsError(AppError):
    status_code = 429


MAX_ERRORS = 20
MAX_ECHO = 200


def capped_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors as FastAPI shapes them, without echoing the input: at most ``MAX_ERRORS`` of
    them, each message cut to ``MAX_ECHO`` characters, no ``input`` and no ``ctx``."""
    capped = []
    for error in list(errors)[:MAX_ERRORS]:
        item = {key: error[key] for key in ("type", "loc", "msg") if key in error}
        item["loc"] = [str(part)[:MAX_ECHO] if isinstance(part, str) else part for part in item.get("loc", [])]
        item["msg"] = str(item.get("msg", ""))[:MAX_ECHO]
        capped.append(item)
    return capped


def field_error(field: str, message: str, *, location: str = "body") -> list[dict[str, Any]]:
    """A validation error in FastAPI's own shape, so clients parse one format."""
    return [{"loc": [location, *field.split(".")], "msg": message, "type": "value_error"}]


class ImportRejectedError(AppError):
    """A whole upload refused: nothing was written, every bad row is listed.

    The body carries the rows both under ``detail`` (the error convention) and at the top level
    (the import result's own shape), so either kind of client finds them.
    """

    status_code = 422

    def __init__(self, errors: list[dict[str, Any]], **extra: Any) -> None:
        message = f"未导入任何内容：{len(errors)} 行有错误"
        super().__init__({"message": message, "errors": errors, **extra})
        self.errors = errors
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "created": 0, "updated": 0, "errors": self.errors, **self.extra}
