"""No api-server background task dies silently: a database outage while the live feed seeds a
bucket is survived in place, and a task that ends anyway is logged, reported by `/ready` (503)
while it is down, and started again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from api_helpers import (
    ServerFactory,
    collector_message,
    minute,
    ready,
    receive,
    settings_for,
    store_minutes,
)
from redis.asyncio import Redis
from starlette.applications import Starlette
from websockets.asyncio.client import connect

from api_server.app import create_app
from devstack.postgres import PostgresServer
from linkora_core import db
from linkora_core.tasks import BackgroundTasks
from linkora_core.timeframes import MINUTE_MS

BASE = int(datetime(2024, 6, 3, tzinfo=UTC).timestamp()) * 1000


async def test_a_database_outage_while_seeding_a_bucket_leaves_the_feed_running(
    restartable_postgres: PostgresServer, live_server: ServerFactory, redis: Redis
) -> None:
    target = urlsplit(restartable_postgres.dsn)
    pool = await db.connect_pool(restartable_postgres.dsn)  # migrates the fresh server
    await store_minutes(pool, "BTCUSDT", [minute(BASE, "10", "12", "9", "11", volume="1")])
    await pool.close()
    app, url = await live_server(
        db_host="127.0.0.1", db_port=target.port, db_name="postgres", db_user="postgres",
        ws_update_interval=0,
    )  # fmt: skip
    tasks: BackgroundTasks = app.state.tasks
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1") as ws:
        await ready(app, ws)
        restartable_postgres.stop()
        # A new timeframe: its open bucket is seeded from the database, which is away.
        await ws.send('{"type":"subscribe","stream":"candles","symbol":"BTCUSDT","timeframe":"5"}')
        await ready(app, ws)
        second = minute(BASE + MINUTE_MS, "11", "13", "10", "12", volume="2")
        await redis.publish("candles:all", collector_message("BTCUSDT", second, closed=True))
        one_minute = await receive(ws)
        assert (one_minute["timeframe"], one_minute["timestamp"]) == ("1", second.open_time_ms)

        restartable_postgres.start()
        pool = await db.connect_pool(restartable_postgres.dsn, migrate=False)
        await store_minutes(pool, "BTCUSDT", [second])  # the collector's retry after the outage
        await pool.close()
        third = minute(BASE + 2 * MINUTE_MS, "12", "12", "8", "9", volume="4")
        await redis.publish("candles:all", collector_message("BTCUSDT", third, closed=True))
        got = {(m["timeframe"], m["timestamp"]): m for m in [await receive(ws), await receive(ws)]}
    assert set(got) == {("1", third.open_time_ms), ("5", BASE)}
    # The 5m bucket was seeded once the database was back: all three minutes are in it.
    five = got[("5", BASE)]
    assert (five["open"], five["high"], five["low"], five["close"]) == ("10", "13", "8", "9")
    assert five["volume"] == "7" and not five["closed"]
    assert tasks.restarts["live-feed"] == 0  # survived in place, not brought back


@pytest.fixture
async def app_with_rollups(
    service_env: dict[str, str], clean_db: asyncpg.Pool
) -> AsyncIterator[Starlette]:
    application = create_app(
        settings_for(service_env, rate_limit_per_second=0, rollup_interval=0.2),
        maintain_rollups=True,
    )
    async with application.router.lifespan_context(application):
        yield application


async def until_ready(client: httpx.AsyncClient, within: float = 15.0) -> httpx.Response:
    for _ in range(int(within / 0.05)):
        response = await client.get("/ready")
        if response.status_code == 200:
            return response
        await asyncio.sleep(0.05)
    raise AssertionError(f"not ready: {response.json()}")


def fail_once(target: object, method: str) -> None:
    """The next call of `target.method` raises; later calls behave as before."""
    original = getattr(target, method)

    def failing(*args: object, **kwargs: object) -> object:
        setattr(target, method, original)
        raise RuntimeError("injected failure")

    setattr(target, method, failing)


async def make_fail(app: Starlette, name: str, redis: Redis) -> None:
    """Make task `name` raise from inside its own work."""
    if name == "live-feed":
        fail_once(app.state.live_feed, "handle")
        await redis.publish("orderbook:all", b"{}")
    elif name == "live-flush":
        fail_once(app.state.live_feed, "flush")
    else:
        fail_once(app.state.rollups, "cycle")


@pytest.mark.parametrize("name", ["live-feed", "live-flush", "rollups"])
@pytest.mark.parametrize("how", ["cancelled", "raises"])
async def test_a_background_task_that_ends_is_logged_reported_not_ready_and_restarted(
    app_with_rollups: Starlette,
    redis: Redis,
    caplog: pytest.LogCaptureFixture,
    name: str,
    how: str,
) -> None:
    tasks: BackgroundTasks = app_with_rollups.state.tasks
    transport = httpx.ASGITransport(app=app_with_rollups)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        await until_ready(client)
        tasks.first_delay = 3.0  # the 503 is looked for while the task waits to restart
        victim = tasks.current(name)
        if how == "cancelled":
            victim.cancel()
        else:
            await make_fail(app_with_rollups, name, redis)
        for _ in range(400):
            if name in tasks.problems():
                break
            await asyncio.sleep(0.005)
        down = await client.get("/ready")
        assert down.status_code == 503
        assert down.json()["ready"] is False and name in down.json()["problems"]
        await until_ready(client)
    assert tasks.restarts[name] == 1
    assert tasks.current(name) is not victim and not tasks.current(name).done()
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and name in r.getMessage()]
    assert logged, "the task's end was not logged"
    if how == "raises":
        assert "injected failure" in logged[0].getMessage()
