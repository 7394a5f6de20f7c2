"""Versioned schema migrations: numbered SQL files in this package, applied in order.

Safe when several services start at once (a PostgreSQL advisory lock serialises them) and
a no-op when everything is applied. An applied file whose text later changed is refused,
because the databases already migrated with the old text would silently diverge.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

# Arbitrary but fixed: "Linkora" in ASCII, shared by every service's migrator.
ADVISORY_LOCK_KEY = 0x4C696E6B6F7261

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """The database holds a migration history this code does not agree with."""


def discover() -> list[Migration]:
    """Every migration shipped with this package, ordered by version."""
    found = []
    for entry in resources.files(__package__).iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions: {versions}")
    return found


_CREATE_HISTORY = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def apply_migrations(
    connection: asyncpg.Connection, *, through: int | None = None
) -> list[Migration]:
    """Apply what is missing, each file in its own transaction; return what was applied.

    `through` stops after that version (tests that start from an earlier schema)."""
    applied_now: list[Migration] = []
    await connection.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
    try:
        await connection.execute(_CREATE_HISTORY)
        rows = await connection.fetch("SELECT version, checksum FROM schema_migrations")
        history = {row["version"]: row["checksum"] for row in rows}
        for migration in discover():
            if through is not None and migration.version > through:
                break
            recorded = history.get(migration.version)
            if recorded is not None:
                if recorded != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} changed after it "
                        "was applied; add a new migration instead of editing an applied one"
                    )
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied_now.append(migration)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
    return applied_now
