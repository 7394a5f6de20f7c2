"""New WebSocket connections are paced per exchange: OKX takes 3 a second per IP, and its
spot and swap venues open two connections each, at start and after every network blip."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
from aiohttp import web
from redis.asyncio import Redis

from data_collector import adapters
from data_collector.live_store import LiveStore
from data_collector.okx_rest import OkxRest
from data_collector.publisher import Publisher
from data_collector.settings import CollectorSettings
from data_collector.status import CollectorStatus
from devstack.ports import free_port
from linkora_core.markets import Exchange, Kind, Market, Venue
from tests.polling import eventually

MARKETS = (
    Market(Venue(Exchange.OKX, Kind.SPOT), "BTC-USDT"),
    Market(Venue(Exchange.OKX, Kind.SWAP), "BTC-USDT-SWAP"),
)


@contextlib.asynccontextmanager
async def okx_sockets(handshakes: list[float]) -> AsyncIterator[str]:
    """OKX's two public socket routes, noting when each handshake arrives, kept open."""

    async def socket(request: web.Request) -> web.WebSocketResponse:
        handshakes.append(time.monotonic())
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass  # subscriptions and pings: no answer needed here
        return ws

    app = web.Application()
    app.router.add_get("/ws/v5/public", socket)
    app.router.add_get("/ws/v5/business", socket)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def open_all(pool: asyncpg.Pool, redis: Redis, paced: bool) -> list[float]:
    handshakes: list[float] = []
    async with okx_sockets(handshakes) as url, aiohttp.ClientSession() as session:
        settings = CollectorSettings(_env_file=None, okx_stream_url=url)  # type: ignore[call-arg]
        connects = adapters.connection_budgets(settings.weight_budget_fraction) if paced else {}

        async def no_fill(market: Market) -> int:
            return 0

        parts = adapters.StreamParts(
            session, LiveStore(pool), Publisher(redis), CollectorStatus(), no_fill, connects
        )
        streams = [
            stream
            for market in MARKETS
            for _, stream in adapters.live_streams(
                settings, OkxRest(session, url, market.venue), [market], parts
            )
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(stream.run(stop)) for stream in streams]
        try:
            await eventually(lambda: len(handshakes) == 4, within=20)
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return handshakes


def most_in_a_second(times: list[float]) -> int:
    return max(sum(1 for u in times if t <= u < t + 1.0) for t in times)


async def test_okx_connections_keep_to_its_limit_of_new_connections_per_second(
    clean_db: asyncpg.Pool, redis: Redis
) -> None:
    paced = await open_all(clean_db, redis, paced=True)
    assert most_in_a_second(paced) <= 2  # 80 % of OKX's 3 a second
    unpaced = await open_all(clean_db, redis, paced=False)
    assert most_in_a_second(unpaced) == 4  # what the four would do left to themselves
