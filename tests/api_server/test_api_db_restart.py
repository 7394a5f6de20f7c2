"""A real PostgreSQL restart under REST load: 503 JSON (and `/ready` 503) while it is down,
then recovery without restarting the api-server."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
from api_helpers import minute, settings_for, store_minutes

from api_server.app import create_app
from devstack.postgres import PostgresServer
from linkora_core import db

BASE = 1_700_000_000_000 // 3_600_000 * 3_600_000


async def test_database_restart_under_load_answers_503_then_recovers(
    restartable_postgres: PostgresServer, service_env: dict[str, str]
) -> None:
    target = urlsplit(restartable_postgres.dsn)
    env = service_env | {"DB_HOST": "127.0.0.1", "DB_PORT": str(target.port),
                         "DB_NAME": "postgres", "DB_USER": "postgres"}  # fmt: skip
    pool = await db.connect_pool(restartable_postgres.dsn)  # migrates the fresh server
    await store_minutes(pool, "BTCUSDT", [minute(BASE, "1", "2", "0.5", "1.5")])
    await pool.close()
    app = create_app(
        settings_for(env, candle_cache_seconds=0, candle_live_cache_seconds=0,
                     rate_limit_per_second=0),
        maintain_rollups=False,
    )  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api") as client,
    ):
        assert (await client.get("/candles?symbol=BTCUSDT")).status_code == 200

        restartable_postgres.stop()
        down = [await client.get("/candles?symbol=BTCUSDT") for _ in range(5)]
        assert {response.status_code for response in down} == {503}
        assert all(r.json() == {"error": "Database unavailable"} for r in down)
        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["database"] == "unhealthy"
        not_ready = await client.get("/ready")
        assert not_ready.status_code == 503
        assert not_ready.json()["problems"]["database"] == "unreachable"

        restartable_postgres.start()
        statuses: list[int] = []
        for _ in range(50):
            statuses.append((await client.get("/candles?symbol=BTCUSDT")).status_code)
            if statuses[-1] == 200:
                break
            await asyncio.sleep(0.2)
        assert statuses[-1] == 200
        body = (await client.get("/candles?symbol=BTCUSDT")).json()
        assert body[0]["close_price"] == "1.5"
        for _ in range(50):  # the database check is reused for about a second
            if (await client.get("/ready")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert (await client.get("/ready")).json() == {"ready": True, "problems": {}}
