"""The shared pool: a pool for stateless readers hands connections back without a reset."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from linkora_core import db


@pytest.mark.parametrize(("reset_on_release", "seen"), [(True, ""), (False, "left behind")])
async def test_session_state_survives_release_only_without_the_reset(
    pg_dsn: str, reset_on_release: bool, seen: str
) -> None:
    pool = await db.connect_pool(
        pg_dsn, min_size=1, max_size=1, migrate=False, reset_on_release=reset_on_release
    )
    try:
        async with pool.acquire() as connection:
            await connection.execute("SET application_name = 'left behind'")
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW application_name") == seen
            # An open transaction is rolled back either way.
            transaction = connection.transaction()
            await transaction.start()
            await connection.execute("CREATE TEMP TABLE t (x int)")
        async with pool.acquire() as connection:
            assert not await connection.fetchval("SELECT to_regclass('pg_temp.t') IS NOT NULL")
    finally:
        await pool.close()


def test_a_programming_error_of_the_driver_is_not_a_database_outage() -> None:
    # "another operation is in progress" is a bug in the caller: retrying it forever hides it.
    busy = asyncpg.InterfaceError("cannot perform operation: another operation is in progress")
    assert not isinstance(busy, db.DATABASE_DOWN)
    assert not isinstance(busy, db.UNAVAILABLE)


async def test_a_connection_lost_to_a_server_restart_is_an_outage(pg_dsn: str) -> None:
    pool = await db.connect_pool(pg_dsn, min_size=1, max_size=1, migrate=False)
    try:
        async with pool.acquire() as connection:
            await _terminate(pg_dsn, connection)
            with pytest.raises(db.DATABASE_DOWN):
                await connection.fetchval("SELECT 1")
            # Once the driver has noticed, every further use says the same.
            with pytest.raises(db.DATABASE_DOWN):
                await connection.fetchval("SELECT 1")
        # Handed back, the lost connection is replaced.
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_statement_timeout_cancels_a_long_query_on_the_server(pg_dsn: str) -> None:
    pool = await db.connect_pool(
        pg_dsn, min_size=1, max_size=1, migrate=False, statement_timeout=0.2
    )
    try:
        with pytest.raises(asyncpg.QueryCanceledError):
            await pool.fetchval("SELECT pg_sleep(5)")
        assert await pool.fetchval("SHOW statement_timeout") == "200ms"
    finally:
        await pool.close()


async def test_a_pool_exhausted_past_the_acquire_timeout_raises_instead_of_waiting(
    pg_dsn: str,
) -> None:
    pool = await db.connect_pool(pg_dsn, min_size=1, max_size=1, migrate=False, acquire_timeout=0.2)
    try:
        async with pool.acquire():
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(pool.fetchval("SELECT 1"), 5)
    finally:
        await pool.close()


async def test_a_connection_lost_inside_a_transaction_block_is_an_outage(pg_dsn: str) -> None:
    pool = await db.connect_pool(pg_dsn, min_size=1, max_size=1, migrate=False)
    try:
        with pytest.raises(db.DATABASE_DOWN):
            async with pool.acquire() as connection, connection.transaction():
                await _terminate(pg_dsn, connection)
                await asyncio.sleep(0.1)  # the driver notices before the block closes
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def _terminate(pg_dsn: str, connection: asyncpg.Connection) -> None:
    """End `connection`'s session from the server side, as a restart does."""
    pid = await connection.fetchval("SELECT pg_backend_pid()")
    killer = await asyncpg.connect(pg_dsn)
    try:
        await killer.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await killer.close()
