"""The yardstick of the benchmarks: a bare FastAPI endpoint returning a small JSON (served with 2 workers)."""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/bare")
    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    return app
