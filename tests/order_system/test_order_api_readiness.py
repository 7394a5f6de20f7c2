"""The order API's `GET /ready`: 200 while its database answers, 503 naming it while it does
not (and `/health` stays 200 all along); the database and the node are asked about once a
second whatever the number of health and readiness requests."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
from rpc_proxy import RpcProxy
from starlette.applications import Starlette

from devstack.postgres import PostgresServer
from linkora_core import db
from order_system.api.app import create_app
from order_system.rpc import JsonRpc
from order_system.settings import OrderSettings


def _app(pool: asyncpg.Pool, rpc_url: str) -> Starlette:
    app = create_app(OrderSettings(web3_provider=rpc_url, rate_limit_per_second=0))
    app.state.pool = pool
    app.state.rpc = JsonRpc(rpc_url, timeout=2, rate_limit_retries=0)
    return app


async def _until_status(client: httpx.AsyncClient, status: int, seconds: float) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        response = await client.get("/ready")
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)


async def test_ready_is_503_while_the_database_is_down_and_200_once_it_is_back(
    restartable_postgres: PostgresServer, hardhat_url: str
) -> None:
    pool = await db.connect_pool(restartable_postgres.dsn, min_size=1, max_size=2, migrate=False)
    app = _app(pool, hardhat_url)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
            ready = await _until_status(client, 200, 10)
            assert (ready.status_code, ready.json()) == (200, {"ready": True, "problems": {}})
            restartable_postgres.stop()
            down = await _until_status(client, 503, 10)
            assert down.status_code == 503
            assert down.json() == {"ready": False, "problems": {"database": "unreachable"}}
            health = await client.get("/health")
            assert health.status_code == 200
            assert health.json()["overall_status"] == "unhealthy"
            restartable_postgres.start()
            assert (await _until_status(client, 200, 30)).status_code == 200
    finally:
        await app.state.rpc.close()
        await pool.close()


class CountingPool:
    """The app's pool, counting the queries health and readiness ask of it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.queries = 0

    async def fetchval(self, query: str, *args: object) -> object:
        self.queries += 1
        return await self.pool.fetchval(query, *args)

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        self.queries += 1
        rows: list[asyncpg.Record] = await self.pool.fetch(query, *args)
        return rows


async def test_health_and_ready_ask_the_database_and_the_node_about_once_a_second(
    clean_db: asyncpg.Pool, proxy: RpcProxy
) -> None:
    counting = CountingPool(clean_db)
    app = _app(counting, proxy.url)  # the counting pool quacks like a pool here
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
            for _ in range(20):
                assert (await client.get("/ready")).status_code == 200
                health = (await client.get("/health")).json()
                assert health["overall_status"] == "healthy"
                assert isinstance(health["components"]["chain_head"], int)
    finally:
        await app.state.rpc.close()
    # One database check and one indexer-state read per second (two if the loop crossed one).
    assert 2 <= counting.queries <= 4
    assert 1 <= len(proxy.requests) <= 2
