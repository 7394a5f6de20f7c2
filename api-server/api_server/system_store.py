"""The database's side of `/system`: its size in total and per table, where its files live,
and the service processes' heartbeats (`service_heartbeats`, written by linkora_core.heartbeat),
pruned of those silent for an hour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import asyncpg

# Per-table sizes listed, largest first (the public schema holds about twenty).
TABLE_LIMIT: Final = 20
# A heartbeat row not renewed for this long is a process long gone: deleted.
PRUNE_AFTER_SECONDS: Final = 3600.0

_TABLES = """
SELECT c.relname AS name, pg_total_relation_size(c.oid) AS size_bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY size_bytes DESC, name
LIMIT $1
"""
# With TimescaleDB a hypertable's rows live in chunks of another schema: its size is theirs
# (hypertable_size, from TimescaleDB's documented API; no development machine has it).
_TIMESCALE_TABLES = """
SELECT c.relname AS name,
       CASE WHEN h.hypertable_name IS NULL THEN pg_total_relation_size(c.oid)
            ELSE coalesce(hypertable_size(c.oid::regclass), 0) END AS size_bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN timescaledb_information.hypertables h
       ON h.hypertable_schema = n.nspname AND h.hypertable_name = c.relname
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY size_bytes DESC, name
LIMIT $1
"""


@dataclass(frozen=True, slots=True)
class DatabaseFigures:
    size_bytes: int
    tables: list[tuple[str, int]]  # (name, bytes), largest first
    data_directory: str | None  # None: this role may not read it


async def database_figures(connection: asyncpg.Connection) -> DatabaseFigures:
    # pg_settings hides data_directory from roles without pg_read_all_settings: NULL then.
    row = await connection.fetchrow(
        """SELECT pg_database_size(current_database()) AS size_bytes,
                  EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS timescale,
                  (SELECT setting FROM pg_settings WHERE name = 'data_directory') AS data_dir"""
    )
    tables = await connection.fetch(_TIMESCALE_TABLES if row["timescale"] else _TABLES, TABLE_LIMIT)
    return DatabaseFigures(
        int(row["size_bytes"]),
        [(str(t["name"]), int(t["size_bytes"])) for t in tables],
        row["data_dir"],
    )


async def prune_heartbeats(connection: asyncpg.Connection) -> None:
    await connection.execute(
        "DELETE FROM service_heartbeats WHERE beat_at < now() - make_interval(secs => $1)",
        PRUNE_AFTER_SECONDS,
    )


async def heartbeats(connection: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every heartbeat row, with `age` (seconds since its last beat, one decimal)."""
    rows = await connection.fetch(
        """SELECT service, instance, pid, started_at, beat_at, state, cpu_percent, rss_bytes,
                  backlog, detail,
                  round(greatest(0, extract(epoch FROM now() - beat_at))::numeric, 1) AS age
           FROM service_heartbeats
           ORDER BY service, started_at, instance"""
    )
    return [dict(row) for row in rows]
