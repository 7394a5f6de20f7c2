"""A Redis restart under live WebSocket clients: nobody is dropped, updates resume."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import orjson
from api_helpers import ServerFactory
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from devstack.ports import free_port, wait_listening
from devstack.redis import server_command

BOOK = {"symbol": "BTCUSDT", "timestamp": 1, "last_update_id": 1, "bids": [], "asks": []}


def start_redis(port: int, work: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        server_command(port, work), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    assert wait_listening(port, 10)
    return process


async def until(condition: Callable[[], bool], within: float = 15.0) -> None:
    for _ in range(int(within / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_clients_survive_a_redis_restart_and_updates_resume(
    live_server: ServerFactory,
) -> None:
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="linkora-redis-restart-"))
    redis_process = start_redis(port, work)
    try:
        app, url = await live_server(redis_port=port, ws_idle_timeout=60)
        feed = app.state.live_feed
        async with connect(f"{url}/ws?type=orderbook") as ws:
            await until(lambda: feed.connected)
            publisher = Redis(port=port)
            await publisher.publish("orderbook:all", orjson.dumps(BOOK))
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 5)) == {**BOOK, "seq": 1}
            await publisher.aclose()

            redis_process.terminate()
            redis_process.wait(10)
            await until(lambda: not feed.connected)
            redis_process = start_redis(port, work)
            await until(lambda: feed.connected)

            publisher = Redis(port=port)
            await publisher.publish("orderbook:all", orjson.dumps({**BOOK, "last_update_id": 2}))
            await publisher.aclose()
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            assert message["last_update_id"] == 2
            assert app.state.hub.connections("127.0.0.1") == 1
    finally:
        redis_process.terminate()
        redis_process.wait(10)
