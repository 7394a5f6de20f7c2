"""Fixtures for collector tests: simulators and collectors that clean up after themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from collector_helpers import Harness, HarnessFactory, SimFactory, days_ago, settings_for
from redis.asyncio import Redis

from binance_sim.config import SimConfig
from binance_sim.server import SimServer


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
