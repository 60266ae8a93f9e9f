"""Time the question import: 10,000 questions into a bank that already holds 10,000.

    /tmp/v/bin/python bench/bench_import.py                      # a temporary SQLite file
    /tmp/v/bin/python bench/bench_import.py postgresql://postgres@127.0.0.1:5432/test
                                                                  # a scratch database next to that one
    /tmp/v/bin/python bench/bench_import.py --one-pool            # worst case: every question in one pool

The second file repeats 5% of the bank exactly (half of them with a changed answer) and 5% nearly, like
a real re-import. Prints the seconds of each stage and of the whole import.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

from app.bank.importer import SYSTEM_PRINCIPAL, ImportDefaults, import_questions
from app.core.db import Database
from app.core.migrate import upgrade_database
from app.org.models import Unit

COUNT = 10_000
UNITS = 5


def _vocabulary(rng: random.Random) -> list[str]:
    return [chr(0x4E00 + rng.randrange(3000)) for _ in range(1500)]


def _question(rng: random.Random, words: list[str], *, one_pool: bool) -> dict[str, Any]:
    stem = "".join(rng.choice(words) for _ in range(rng.randint(20, 80)))
    kind = "single" if one_pool else rng.choices(["single", "multiple", "judge"], [45, 22, 33])[0]
    category = "theory" if one_pool else rng.choice(["theory", "law", "policy"])
    item: dict[str, Any] = {"type": kind, "category": category, "stem": stem, "tags": [rng.choice(words)]}
    if category == "policy":
        item["unit_code"] = f"BENCH{rng.randrange(UNITS)}"
    if kind == "judge":
        return item | {"answer": rng.choice("TF")}
    options = ["".join(rng.choice(words) for _ in range(rng.randint(4, 12))) for _ in range(4)]
    return item | {"options": options, "answer": "AC" if kind == "multiple" else rng.choice("ABCD")}


def _files(one_pool: bool) -> tuple[bytes, bytes]:
    rng = random.Random(20261123)
    words = _vocabulary(rng)
    bank = [_question(rng, words, one_pool=one_pool) for _ in range(COUNT)]
    fresh = [_question(rng, words, one_pool=one_pool) for _ in range(COUNT)]
    for n in range(0, COUNT, 20):
        fresh[n] = dict(bank[n])
        if n % 40 == 0 and bank[n]["type"] == "single":
            fresh[n]["answer"] = "D" if bank[n]["answer"] != "D" else "A"
        fresh[n + 1] = dict(bank[n + 1], stem=bank[n + 1]["stem"] + "吗")
    return tuple(json.dumps(f, ensure_ascii=False).encode() for f in (bank, fresh))  # type: ignore[return-value]


async def _import(database: Database, content: bytes, label: str) -> None:
    stages: dict[str, float] = {}
    start = time.perf_counter()
    async with database.read_sessions() as reader, database.write_sessions() as session:
        result = await import_questions(
            reader,
            session,
            filename=f"{label}.json",
            content=content,
            defaults=ImportDefaults(),
            principal=SYSTEM_PRINCIPAL,
            now=datetime.now(UTC),
            progress=lambda stage: stages.setdefault(stage, time.perf_counter()),
        )
        await session.commit()
    end = time.perf_counter()
    marks = [stages["parse"], stages["validate"], stages["write"], end]
    parse, validate, write = (b - a for a, b in itertools.pairwise(marks))
    print(
        f"{label}: {end - start:.2f} s (parse {parse:.2f}, validate+duplicates {validate:.2f}, write {write:.2f}); "
        f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}, "
        f"near duplicates {sum(d.kind == 'near' for d in result.duplicates)}"
    )


async def _run(url: str, one_pool: bool) -> None:
    bank, fresh = _files(one_pool)
    database = Database(url)
    try:
        async with database.write_sessions() as session:
            session.add_all(Unit(code=f"BENCH{n}", name=f"基准单位{n}", headcount=100) for n in range(UNITS))
            await session.commit()
        await _import(database, bank, "seed the bank with 10k")
        await _import(database, fresh, "import 10k into a bank of 10k")
    finally:
        await database.dispose()


async def _scratch_postgres(url: str) -> str:
    import asyncpg

    name = f"exambank_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _drop_postgres(admin_url: str, url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(make_url(admin_url).set(drivername="postgresql").render_as_string(False))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", help="postgresql://… (a scratch database is made next to it)")
    parser.add_argument("--one-pool", action="store_true", help="every question single/theory (worst case)")
    args = parser.parse_args()
    if args.url and make_url(args.url).get_backend_name() == "postgresql":
        url = asyncio.run(_scratch_postgres(args.url))
    else:
        url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade_database(url)
    try:
        asyncio.run(_run(url, args.one_pool))
    finally:
        if url != args.url and make_url(url).get_backend_name() == "postgresql":
            asyncio.run(_drop_postgres(args.url, url))


if __name__ == "__main__":
    main()
