"""The shared pool: a pool for stateless readers hands connections back without a reset."""

from __future__ import annotations

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
