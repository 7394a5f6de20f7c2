"""Fixtures for collector tests: simulators and collectors that clean up after themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from collector_helpers import Harness, HarnessFactory, SimFactory, days_ago, settings_for
from redis.asyncio import Redis

from exchange_sim.config import SimConfig
from exchange_sim.server import SimServer


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    started: list[SimServer] = []

    async def make(**config: Any) -> SimServer:
        config.setdefault("start", days_ago(2))
        sim = SimServer(SimConfig(**config))
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.close()


@pytest.fixture
async def make_collector(clean_db: asyncpg.Pool, redis: Redis) -> AsyncIterator[HarnessFactory]:
    made: list[Harness] = []

    def make(sim: SimServer, **overrides: Any) -> Harness:
        harness = Harness(settings_for(sim, **overrides), clean_db, redis)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        await harness.close()


class CandleRefusals:
    """A trigger on `candles` raising a chosen SQLSTATE for chosen open times."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def refuse(self, open_ms: int, sqlstate: str, times: int | None = None) -> None:
        """Refuse writes of the minute `open_ms`: always, or only the first `times` tries."""
        await self.pool.execute(
            "INSERT INTO test_refusals VALUES (to_timestamp($1::bigint / 1000), $2, $3)",
            open_ms, sqlstate, times,
        )  # fmt: skip

    async def tries(self) -> int:
        value: int = await self.pool.fetchval("SELECT last_value FROM test_refusal_tries")
        return value


@pytest.fixture
async def refusals(clean_db: asyncpg.Pool) -> AsyncIterator[CandleRefusals]:
    await clean_db.execute(
        """CREATE TABLE test_refusals (open_time timestamptz, state text, times int);
           CREATE SEQUENCE test_refusal_tries;
           CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
           DECLARE r record;
           BEGIN
               SELECT * INTO r FROM test_refusals WHERE open_time = NEW.open_time;
               -- nextval is not rolled back: it counts tries across failed transactions.
               IF FOUND AND (r.times IS NULL OR nextval('test_refusal_tries') <= r.times) THEN
                   RAISE EXCEPTION 'refused for the test' USING ERRCODE = r.state;
               END IF;
               RETURN NEW;
           END $$;
           CREATE TRIGGER test_refuse BEFORE INSERT OR UPDATE ON candles
               FOR EACH ROW EXECUTE FUNCTION test_refuse();"""
    )
    try:
        yield CandleRefusals(clean_db)
    finally:
        await clean_db.execute(
            """DROP TRIGGER test_refuse ON candles; DROP FUNCTION test_refuse();
               DROP TABLE test_refusals; DROP SEQUENCE test_refusal_tries;"""
        )
