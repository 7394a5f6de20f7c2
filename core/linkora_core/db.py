"""PostgreSQL connection pool: created with retries so a service started before the
database waits for it instead of crashing, and migrated before first use."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import asyncpg
import asyncpg.transaction

from linkora_core.backoff import RetryPolicy
from linkora_core.migrations import apply_migrations

log = logging.getLogger(__name__)

# Repository functions take either, so tests can run them inside a rolled-back transaction.
Executor: TypeAlias = "asyncpg.Pool | asyncpg.Connection"

# Errors that mean "the server is not (yet) reachable", as opposed to a broken query. The
# driver's InterfaceError is not among them: it also means a programming error ("another
# operation is in progress"), which retrying forever would hide; a closed connection, its one
# outage meaning, is raised as ConnectionDoesNotExistError by the connections made here.
UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
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

# Waiting for a database that is starting: short first tries (it is often up within a
# second), then every 5 s at most so it is noticed soon after it accepts connections.
CONNECT_RETRY = RetryPolicy(first=0.25, cap=5.0)


async def connect_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    migrate: bool = True,
    retry_for: float = 120.0,
    reset_on_release: bool = True,
    statement_timeout: float | None = None,
    acquire_timeout: float | None = None,
) -> asyncpg.Pool:
    """Open a pool, retrying with backoff for up to `retry_for` seconds, then migrate.

    `reset_on_release=False` is for pools whose users leave no session state behind (no
    advisory locks, LISTEN, cursors or SET): it saves the round trip asyncpg otherwise makes
    to reset every connection handed back. `statement_timeout` (seconds) makes the server
    cancel longer statements (QueryCanceledError); `acquire_timeout` makes a caller that waits
    longer for a free connection get TimeoutError instead of waiting for ever."""
    server_settings = {}
    if statement_timeout is not None:
        server_settings["statement_timeout"] = str(max(1, round(statement_timeout * 1000)))
    backoff, waited = CONNECT_RETRY.backoff(), 0.0
    while True:
        try:
            pool: asyncpg.Pool = await _Pool(
                dsn,
                acquire_timeout=acquire_timeout,
                min_size=min_size,
                max_size=max_size,
                command_timeout=60,
                connection_class=_Connection if reset_on_release else _NoReset,
                server_settings=server_settings,
                # asyncpg.create_pool's defaults, which a Pool subclass must pass itself.
                max_queries=50000,
                max_inactive_connection_lifetime=300.0,
                loop=None,
                record_class=asyncpg.Record,
            )
            break
        except UNAVAILABLE as error:
            if waited >= retry_for:
                raise
            delay = backoff.next_delay()
            log.warning("database unavailable (%s); retrying in %.1fs", error, delay)
            # No stop event here: a stop asked for meanwhile is seen once this returns or raises.
            await asyncio.sleep(delay)
            waited += delay
    if migrate:
        async with pool.acquire() as connection:
            await apply_migrations(connection)
    return pool


class _Pool(asyncpg.Pool):  # type: ignore[misc]  # asyncpg ships no types
    """A pool whose every acquire (also those inside `fetch` and friends, which take no
    timeout) waits at most `acquire_timeout` seconds, so callers of an exhausted pool fail
    fast with TimeoutError."""

    __slots__ = ("_acquire_timeout",)

    def __init__(self, *args: Any, acquire_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


class _Connection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no types
    """A connection whose loss reads as an outage wherever the caller next uses it.

    asyncpg says "connection is closed" or, when the loss is noticed while a caller holds the
    connection, hands the connection back and says "released back to the pool": both plain
    InterfaceErrors, the class its programming errors share. Here the held connection stays
    checked out until its caller hands it back, and every use of a closed connection raises
    ConnectionDoesNotExistError. (These hooks are asyncpg internals; tests/core/test_db_pool.py
    fails if a release changes them.)"""

    _releasing = False

    def _check_open(self) -> None:
        if self.is_closed():
            raise asyncpg.ConnectionDoesNotExistError("connection is closed")

    def _set_proxy(self, proxy: object) -> None:
        super()._set_proxy(proxy)
        if proxy is not None:
            self._releasing = False

    def _on_release(self, stacklevel: int = 1) -> None:
        self._releasing = True
        super()._on_release(stacklevel + 1)

    def transaction(self, **options: Any) -> asyncpg.transaction.Transaction:
        self._check_open()
        return _Transaction(self, **options)

    def _cleanup(self) -> None:
        if self._proxy is None or self._releasing:
            super()._cleanup()
            return
        holder = getattr(self, "_pool_holder")  # noqa: B009  # untyped asyncpg attribute
        self._pool_holder = None
        super()._cleanup()
        self._pool_holder = holder


class _Transaction(asyncpg.transaction.Transaction):  # type: ignore[misc]  # untyped
    """A transaction block whose connection was lost says so as an outage when it closes
    (asyncpg raises the generic InterfaceError "the underlying connection is closed")."""

    __slots__ = ()

    def __init__(
        self,
        connection: asyncpg.Connection,
        isolation: str | None = None,
        readonly: bool = False,
        deferrable: bool = False,
    ) -> None:
        super().__init__(connection, isolation, readonly, deferrable)

    def _check_conn_validity(self, meth_name: str) -> None:
        if self._connection.is_closed():
            raise asyncpg.ConnectionDoesNotExistError(
                f"cannot call Transaction.{meth_name}(): the connection is closed"
            )
        super()._check_conn_validity(meth_name)


class _NoReset(_Connection):
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
