"""A Redis connection that dies silently (no FIN, no RST: nothing more arrives) is noticed by
the live feed within a bounded time, and the feed subscribes again once the path is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from api_helpers import ServerFactory, ready, receive
from redis.asyncio import Redis
from tcp_proxy import TcpProxy
from websockets.asyncio.client import connect

BOOK = {"symbol": "BTCUSDT", "timestamp": 1, "last_update_id": 1, "bids": [], "asks": []}


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy(urlsplit(redis_url).port or 6379).start()
    try:
        yield proxy
    finally:
        await proxy.stop()


async def within(seconds: float, condition: Callable[[], bool]) -> float:
    """Seconds until `condition()` holds; fails beyond `seconds`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_silently_dead_redis_connection_is_noticed_and_replaced(
    live_server: ServerFactory, redis_proxy: TcpProxy, redis: Redis
) -> None:
    app, url = await live_server(redis_port=redis_proxy.port, redis_ping_interval=0.5)
    feed = app.state.live_feed
    async with connect(f"{url}/ws?type=orderbook") as ws:
        await ready(app, ws)
        await redis.publish("orderbook:all", orjson.dumps(BOOK))
        assert await receive(ws) == {**BOOK, "seq": 1}

        redis_proxy.pause()
        # Silence for the ping interval, then a ping left unanswered as long again.
        await within(8, lambda: not feed.connected)
        async with httpx.AsyncClient(base_url=url.replace("ws:", "http:")) as http:
            not_ready = await http.get("/ready")
        assert not_ready.status_code == 503 and "live_feed" in not_ready.json()["problems"]

        redis_proxy.resume()
        await within(15, lambda: feed.connected)
        await redis.publish("orderbook:all", orjson.dumps({**BOOK, "last_update_id": 2}))
        assert (await receive(ws))["last_update_id"] == 2
    assert redis_proxy.connections >= 2  # the dead connection was replaced
