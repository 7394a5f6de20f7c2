"""Background tasks that never end silently, and `/ready` on the METRICS_PORT server."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from collector_helpers import FAST, Harness, HarnessFactory, SimFactory, settings_for
from redis.asyncio import Redis

from data_collector import health
from data_collector.collector import Collector
from devstack.ports import free_port
from devstack.postgres import PostgresServer
from linkora_core import db
from linkora_core.tasks import BackgroundTasks
from tests.polling import eventually


@contextlib.asynccontextmanager
async def health_server(collector: Collector) -> AsyncIterator[int]:
    port = free_port()
    runner = await health.start(
        collector.status, collector.health, port, problems=collector.problems
    )
    try:
        yield port
    finally:
        await runner.cleanup()


async def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize("mode", ["ws", "rest"])
async def test_each_background_task_killed_is_logged_not_ready_and_running_again(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim, realtime_mode=mode, audit_interval=3600, orderbook_retention=3600)
    tasks = harness.collector.tasks
    tasks.first_delay = 3.0  # the restart delay: long enough to see the 503 on a loaded machine
    harness.start()
    await harness.wait_backfilled()
    realtime = "stream" if mode == "ws" else "poller"
    background = {"publisher", "live-store", "venue-status", "retention", "audit"}
    background |= {"control", "control-listen", "progress"}  # following the desired state
    background |= {"leases"}  # sharing the markets with other instances
    assert set(tasks.restarts) == background | {realtime}
    async with health_server(harness.collector) as port:
        assert (await get(port, "/ready"))[0] == 200
        for name in sorted(tasks.restarts):
            await kill_and_see_it_back(port, tasks, name, caplog)
    assert harness.task is not None and not harness.task.done()


async def kill_and_see_it_back(
    port: int, tasks: BackgroundTasks, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    killed = tasks.current(name)
    with caplog.at_level(logging.ERROR, logger="linkora_core.tasks"):
        killed.cancel()

        async def not_ready() -> bool:
            status, body = await get(port, "/ready")
            return status == 503 and name in body["problems"]

        await eventually(not_ready, within=10)
    assert any(f"background task {name} was cancelled" in r.getMessage() for r in caplog.records)
    assert (await get(port, "/health"))[0] == 200

    async def running_again() -> bool:
        return tasks.restarts[name] == 1 and tasks.current(name) is not killed

    await eventually(running_again, within=10)
    assert not tasks.current(name).done()
    await eventually(lambda: _ready(port), within=10)


async def _ready(port: int) -> bool:
    return (await get(port, "/ready"))[0] == 200


async def test_ready_is_503_while_the_database_is_unreachable_and_health_stays_200(
    make_sim: SimFactory, restartable_postgres: PostgresServer, redis: Redis
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    pool = await db.connect_pool(restartable_postgres.dsn, max_size=2)
    harness = Harness(settings_for(sim), pool, redis)
    try:
        async with health_server(harness.collector) as port:
            assert await get(port, "/ready") == (200, {"ready": True, "problems": {}})
            restartable_postgres.stop()

            async def database_named() -> bool:
                status, body = await get(port, "/ready")
                return status == 503 and body["problems"] == {"database": "unreachable"}

            await eventually(database_named, within=10)
            assert (await get(port, "/health"))[0] == 200
            restartable_postgres.start()
            await eventually(lambda: _ready(port), within=30)
    finally:
        await harness.close()
        await pool.close()


async def test_ready_is_503_while_redis_is_unreachable(make_sim: SimFactory, clean_db: Any) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    dead = Redis(port=free_port(), socket_connect_timeout=1)
    harness = Harness(settings_for(sim), clean_db, dead)
    try:
        async with health_server(harness.collector) as port:
            status, body = await get(port, "/ready")
            assert (status, body["problems"]) == (503, {"redis": "unreachable"})
            assert (await get(port, "/health"))[0] == 200
    finally:
        await harness.close()
        await dead.aclose()


async def test_ready_asks_the_database_about_once_a_second(
    make_sim: SimFactory, make_collector: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    harness = make_collector(sim)
    asked = 0
    real = db.is_healthy

    async def counting(pool: Any) -> bool:
        nonlocal asked
        asked += 1
        return await real(pool)

    monkeypatch.setattr(db, "is_healthy", counting)
    async with health_server(harness.collector) as port:
        for _ in range(20):
            assert (await get(port, "/ready"))[0] == 200
    assert 1 <= asked <= 3
