"""The deadline sweeper (filled in with the attempts work)."""

from __future__ import annotations

from fastapi import FastAPI


async def run_sweeper(app: FastAPI) -> None:
    return None
