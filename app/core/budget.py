"""The connection budget, checked once at start-up (``exambank serve``): what this server's pools may hold
(workers × ``EXAMBANK_DB_POOL_SIZE``) against what PostgreSQL can give — ``max_connections`` less the
superuser reserve, the connections of other clients, and the pools of the exambank servers already
running, which name themselves (and their pool size) in ``pg_stat_activity.application_name``.

A server whose pool is idle holds no connection and is not seen; behind a transaction pooler the pooler's
own pool bounds the server connections, so the check is skipped there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text

from app.core.db import APPLICATION_NAME_PREFIX, create_engine, is_sqlite

_POOL = re.compile(rf"^{APPLICATION_NAME_PREFIX} pid=(\d+) pool=(\d+)$")
_SURVEY = text(
    """
    SELECT current_setting('max_connections')::int AS max_connections,
           current_setting('superuser_reserved_connections')::int AS reserved,
           (SELECT count(*) FROM pg_stat_activity
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
               AND coalesce(application_name, '') NOT LIKE :prefix) AS other_clients,
           (SELECT coalesce(array_agg(DISTINCT application_name), ARRAY[]::text[]) FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND application_name LIKE :prefix) AS servers
    """
)


@dataclass(frozen=True, slots=True)
class Budget:
    needed: int  # workers × pool size of this server
    max_connections: int
    reserved: int
    other_clients: int  # connections of clients that are not exambank servers
    claimed: int  # the pools of the exambank servers seen running
    servers: int

    @property
    def available(self) -> int:
        return self.max_connections - self.reserved - self.other_clients

    @property
    def fits(self) -> bool:
        return self.needed + self.claimed <= self.available

    def message(self, *, workers: int, pool_size: int) -> str:
        return (
            f"数据库连接不够：本服务 {workers} 个进程 × 每进程 {pool_size} 个连接 = {self.needed}，"
            f"已在运行的 {self.servers} 个 exambank 进程占 {self.claimed}；PostgreSQL max_connections="
            f"{self.max_connections}，除去保留的 {self.reserved} 个和其他客户端的 {self.other_clients} 个，"
            f"只剩 {self.available} 个。请减小 EXAMBANK_DB_POOL_SIZE 或 --workers、提高 max_connections，"
            "或经 PgBouncer 连接（EXAMBANK_DB_TRANSACTION_POOLER=true）；EXAMBANK_DB_BUDGET_CHECK=warn 时只告警。"
            f" (connection budget: need {self.needed} + {self.claimed} running > {self.available} available)"
        )


async def survey(database_url: str, *, pool_size: int, workers: int) -> Budget:
    engine = create_engine(database_url, pool_size=1, transaction_pooler=False)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(_SURVEY, {"prefix": f"{APPLICATION_NAME_PREFIX} pid=%"})).one()
    finally:
        await engine.dispose()
    # A process may hold more than one pool (each labelled with its size): every distinct pool counts.
    pools: set[tuple[int, int]] = set()
    for name in row.servers:
        match = _POOL.match(name)
        if match:
            pools.add((int(match.group(1)), int(match.group(2))))
    return Budget(
        needed=workers * pool_size,
        max_connections=row.max_connections,
        reserved=row.reserved,
        other_clients=row.other_clients,
        claimed=sum(size for _pid, size in pools),
        servers=len({pid for pid, _size in pools}),
    )


def applies(database_url: str, *, transaction_pooler: bool, mode: str) -> bool:
    return mode != "off" and not transaction_pooler and not is_sqlite(database_url)
