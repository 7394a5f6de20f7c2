"""A real PostgreSQL restart while the collector follows the stream in real time."""

from __future__ import annotations

import asyncio
import itertools

from collector_helpers import (
    FAST,
    MINUTE_MS,
    Harness,
    SimFactory,
    closed_minutes,
    closed_past,
    settings_for,
    stored_equals_source,
)
from redis.asyncio import Redis

from devstack.postgres import PostgresServer
from linkora_core import db
from tests.polling import eventually


async def test_database_restart_in_real_time_resumes_and_fills_the_gap(
    make_sim: SimFactory, restartable_postgres: PostgresServer, redis: Redis
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    pool = await db.connect_pool(restartable_postgres.dsn, max_size=4)
    harness = Harness(settings_for(sim), pool, redis)
    try:
        harness.start()
        await harness.wait_backfilled()
        before = (await closed_minutes(pool, "BTCUSDT"))[-1]

        restartable_postgres.stop()
        await asyncio.sleep(3)  # several simulated minutes pass with the database gone
        restartable_postgres.start()

        await eventually(lambda: closed_past(pool, "BTCUSDT", before + 4 * MINUTE_MS), within=60)
        minutes = await closed_minutes(pool, "BTCUSDT")
        assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(minutes))
        await stored_equals_source(pool, sim, "BTCUSDT")
        assert harness.task is not None and not harness.task.done()
    finally:
        await harness.close()
        await pool.close()
