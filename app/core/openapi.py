"""The OpenAPI document as users read it: a bearer security scheme, marked on every operation that needs a
login, so the Authorize button of /docs sends the token."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Collection, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

BEARER = "bearer"


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def authenticated_operations(
    app: FastAPI, authenticated_by: Collection[Callable[..., Any]]
) -> Iterator[tuple[str, str]]:
    """(path, method) of each documented route whose dependencies, at any depth, include one of
    ``authenticated_by``."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        dependant = getattr(context, "dependant", None) or route.dependant
        if any(call in authenticated_by for call in _calls(dependant)):
            for method in context.methods or ():
                yield context.path_format or route.path_format, method.lower()


def _admits_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_admits_int(option) for option in typing.get_args(annotation))
    return origin is typing.Annotated and _admits_int(typing.get_args(annotation)[0])


def _query_fields(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    for dependency in dependant.dependencies:
        yield from _query_fields(dependency)


def integer_query_parameters(app: FastAPI) -> frozenset[str]:
    """The names of the query parameters that some route declares as integers (ids, limits, offsets),
    read off the routes' dependencies — the same set the OpenAPI document lists, without building it
    (a test compares the two)."""
    names: set[str] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        dependant = getattr(context, "dependant", None) or route.dependant
        names.update(field.alias for field in _query_fields(dependant) if _admits_int(field.field_info.annotation))
    return frozenset(names)


def install_openapi(app: FastAPI, *, authenticated_by: Collection[Callable[..., Any]]) -> None:
    """Build the schema once with the bearer scheme and each logged-in operation's security requirement."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER] = {
            "type": "http",
            "scheme": "bearer",
            "description": "POST /api/auth/login 返回的 access_token（考生用准考证号和密码登录）。"
            " The access_token of POST /api/auth/login.",
        }
        for path, method in authenticated_operations(app, authenticated_by):
            operation = schema["paths"].get(path, {}).get(method)
            if operation is not None:
                operation["security"] = [{BEARER: []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CSV = "text/csv"
JSON = "application/json"


def file_responses(*media_types: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The documented 200 reply of a route that answers with a file (use with ``response_class=Response``)."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": description, "content": dict.fromkeys(media_types, binary)}}
