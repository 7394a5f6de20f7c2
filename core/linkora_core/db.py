"""PostgreSQL connection pool: created with retries so a service started before the
database waits for it instead of crashing, and migrated before first use."""

from __future__ import annotations

import asyncio
import logging
from typing import TypeAlias
from urllib.parse import urlsplit

import asyncpg

from linkora_core.migrations import apply_migrations

log = logging.getLogger(__name__)

# Repository functions take either, so tests can run them inside a rolled-back transaction.
Executor: TypeAlias = "asyncpg.Pool | asyncpg.Connection"

# Errors that mean "the server is not (yet) reachable", as opposed to a broken query.
UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    # A connection the server terminated in the middle of an operation can be left in a state
    # where its next use fails this way; it is an outage symptom, not a bad query.
    asyncpg.InternalClientError,
)

# Everything that means "the database is away or just restarted", for callers that wait,
# buffer or answer 503 instead of failing: unreachable, connections terminated by the server.
DATABASE_DOWN = (
    *UNAVAILABLE,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown
)


async def connect_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    migrate: bool = True,
    retry_for: float = 120.0,
    reset_on_release: bool = True,
) -> asyncpg.Pool:
    """Open a pool, retrying with backoff for up to `retry_for` seconds, then migrate.

    `reset_on_release=False` is for pools whose users leave no session state behind (no
    advisory locks, LISTEN, cursors or SET): it saves the round trip asyncpg otherwise makes
    to reset every connection handed back."""
    delay, waited = 0.25, 0.0
    while True:
        try:
            pool: asyncpg.Pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                command_timeout=60,
                connection_class=asyncpg.Connection if reset_on_release else _NoReset,
            )
            break
        except UNAVAILABLE as error:
            if waited >= retry_for:
                raise
            log.warning("database unavailable (%s); retrying in %.1fs", error, delay)
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)
    if migrate:
        async with pool.acquire() as connection:
            await apply_migrations(connection)
    return pool


class _NoReset(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no types
    """A connection handed back to its pool without a reset query (an open transaction is
    still rolled back)."""

    def get_reset_query(self) -> str:
        return ""


async def recreate_database(server_dsn: str, name: str) -> str:
    """Drop (disconnecting its sessions) and create database `name`; return its DSN.
    For tests and benchmarks: `name` is the caller's own constant, never user input."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name: {name!r}")
    connection = await asyncpg.connect(server_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return urlsplit(server_dsn)._replace(path=f"/{name}").geturl()


HEALTH_TIMEOUT = 2.0


async def is_healthy(pool: asyncpg.Pool) -> bool:
    """True when a trivial query answers within HEALTH_TIMEOUT seconds."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            return bool(await pool.fetchval("SELECT 1") == 1)
    except (*UNAVAILABLE, asyncpg.PostgresError):
        return False
