"""`GET /ready` decides what `/health` only describes: 200 when the database and Redis answer
and the live feed is subscribed, else 503 naming each problem (the database outage is in
test_api_db_restart.py, a task that ends in test_api_background_tasks.py)."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from api_helpers import settings_for
from starlette.applications import Starlette

from api_server.app import create_app
from devstack.ports import free_port


async def test_ready_when_everything_answers(client: httpx.AsyncClient) -> None:
    for _ in range(100):
        response = await client.get("/ready")
        if response.status_code == 200:
            break
        await asyncio.sleep(0.05)
    assert response.status_code == 200
    assert response.json() == {"ready": True, "problems": {}}


async def test_an_unreachable_redis_is_503_while_health_stays_200(
    service_env: dict[str, str], clean_db: asyncpg.Pool
) -> None:
    app = create_app(
        settings_for(service_env, redis_port=free_port(), rate_limit_per_second=0),
        maintain_rollups=False,
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api") as client,
    ):
        response = await client.get("/ready")
        health = await client.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "problems": {"redis": "unreachable", "live_feed": "not subscribed to Redis"},
    }
    assert health.status_code == 200 and health.json()["redis"] == "unhealthy"


class CountingPool:
    """The app's pool, counting the health queries asked of it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.queries = 0

    async def fetchval(self, query: str) -> object:
        self.queries += 1
        return await self.pool.fetchval(query)


async def test_readiness_and_health_ask_the_database_about_once_a_second(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    counting = CountingPool(app.state.pool)
    await asyncio.sleep(1.1)  # whatever was cached before has expired
    app.state.pool = counting
    try:
        for _ in range(20):
            await client.get("/ready")
            await client.get("/health")
    finally:
        app.state.pool = counting.pool
    assert 1 <= counting.queries <= 2  # two only if the loop crossed a second
