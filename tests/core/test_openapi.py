"""The OpenAPI document as users read it: the bearer scheme on every operation that needs a login, a
description per operation, and a typed reply (a schema, or a file's media types) for every success."""

from __future__ import annotations

from typing import Any

import httpx2


async def _spec(client: httpx2.AsyncClient) -> dict[str, Any]:
    reply = await client.get("/openapi.json")
    assert reply.status_code == 200
    return reply.json()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


async def test_every_logged_in_operation_asks_for_the_bearer_token(client: httpx2.AsyncClient) -> None:
    spec = await _spec(client)
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer") and "access_token" in scheme["description"]
    public = {(m, p) for m, p, op in _operations(spec) if "security" not in op}
    assert public == {("get", "/api/health"), ("post", "/api/auth/login")}
    operations = {(m, p): op for m, p, op in _operations(spec)}
    assert operations[("patch", "/api/exams/{exam_id}/participants/{cadre_id}")]["security"] == [{"bearer": []}]
    # Without the token such an operation is refused; with it, it answers.
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_every_operation_is_described_and_typed(client: httpx2.AsyncClient) -> None:
    spec = await _spec(client)
    undescribed = [(m, p) for m, p, op in _operations(spec) if not op.get("description", "").strip()]
    assert undescribed == []
    untyped = []
    for method, path, op in _operations(spec):
        for code, reply in op["responses"].items():
            if not code.startswith("2") or code == "204":
                continue
            content = reply.get("content", {})
            if not content or any(media.get("schema") in (None, {}) for media in content.values()):
                untyped.append((method, path, code))
    assert untyped == []
    exports = {p: op for m, p, op in _operations(spec) if p.endswith("/export") and m == "get"}
    assert set(exports["/api/units/{unit_id}/handbook/export"]["responses"]["200"]["content"]) == {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    }
    assert "text/csv" in exports["/api/questions/export"]["responses"]["200"]["content"]
