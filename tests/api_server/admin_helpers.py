"""What the /admin tests share: a client holding the token (from a chosen address), the
NOTIFYs on `linkora_control` and the messages on the Redis control channel heard meanwhile,
and the rows the admin API writes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
from api_helpers import ADMIN_TOKEN
from redis.asyncio import Redis
from starlette.applications import Starlette

from linkora_core import bus, control_store

BASE_URL = "http://api"


@contextlib.asynccontextmanager
async def admin_client(
    app: Starlette, token: str | None = ADMIN_TOKEN, address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of `app` whose requests come from `address` with `token`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as c:
        yield c


@contextlib.asynccontextmanager
async def notifications(pg_dsn: str) -> AsyncIterator[list[dict[str, Any]]]:
    """The payloads of every NOTIFY on control_store.CHANNEL while the block runs."""
    heard: list[dict[str, Any]] = []
    connection = await asyncpg.connect(pg_dsn)

    def listener(conn: object, pid: int, channel: str, payload: str) -> None:
        heard.append(orjson.loads(payload))

    await connection.add_listener(control_store.CHANNEL, listener)
    try:
        yield heard
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def control_messages(redis_url: str) -> AsyncIterator[list[dict[str, Any]]]:
    """Every message published on bus.CONTROL while the block runs."""
    heard: list[dict[str, Any]] = []
    client = Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(bus.CONTROL)

    async def pump() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                heard.append(orjson.loads(message["data"]))

    task = asyncio.create_task(pump())
    try:
        yield heard
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py lacks the hint
        await client.aclose()


async def audit_rows(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Every audit row, oldest first, its detail decoded."""
    rows = await pool.fetch(
        "SELECT actor, address, action, target, detail FROM admin_audit ORDER BY id"
    )
    return [{**dict(r), "detail": orjson.loads(r["detail"])} for r in rows]


async def control_state(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    """The whole desired state and the audit log, to show a refused request changed nothing."""
    queries = {
        "markets": "SELECT venue, symbol, start_date, removed_at FROM control_markets",
        "exchanges": "SELECT exchange, enabled FROM control_exchanges",
        "settings": "SELECT name, value FROM control_settings",
        "audit": "SELECT id FROM admin_audit",
    }
    return {name: sorted(tuple(r) for r in await pool.fetch(sql)) for name, sql in queries.items()}
