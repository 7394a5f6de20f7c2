"""/ws connections parked by the api-server's protocol: once subscribed, a connection holds no
task (its handler has returned) yet still gets live updates, answers pings, is closed for
silence or slowness, and leaves the hub when it ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import orjson
import uvicorn
from api_helpers import (
    ServerFactory,
    closed_with,
    collector_message,
    minute,
    numbered_book,
    ready,
    receive,
)
from redis.asyncio import Redis
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect

from api_server.ws_protocol import UVICORN_OPTIONS
from devstack.ports import free_port

BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) * 1000


def _serves_a_connection(task: asyncio.Task[object]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and (
        code.co_name == "run_asgi" or code.co_filename.endswith("ws_endpoint.py")
    )


async def _hub_empties(app: Starlette) -> bool:
    for _ in range(100):
        if app.state.hub.clients == 0:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_subscribed_connections_hold_no_task_yet_get_updates_and_pings(
    live_server: ServerFactory, redis: Redis
) -> None:
    app, url = await live_server(ws_update_interval=0, ws_handshake_rate=0)
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1"))
        await ready(app, first)
        others: list[ClientConnection] = []
        for _ in range(20):
            ws = await stack.enter_async_context(connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1"))
            await ready(app, ws)
            others.append(ws)
        # No connection's ASGI call (nor anything started from it) is still running.
        assert not [task for task in asyncio.all_tasks() if _serves_a_connection(task)]
        assert app.state.hub.clients == 21
        m = minute(BASE, "10", "11", "9", "10.5", volume="3")
        await redis.publish("candles:all", collector_message("BTCUSDT", m, closed=False))
        for ws in (first, *others):
            update = await receive(ws)
            assert (update["symbol"], update["close"], update["volume"]) == ("BTCUSDT", "10.5", "3")
    assert await _hub_empties(app)


async def test_a_silent_parked_connection_is_closed_and_leaves_the_hub(
    live_server: ServerFactory,
) -> None:
    app, url = await live_server(ws_idle_timeout=0.5, ws_heartbeat_interval=0.2)
    async with connect(f"{url}/ws?symbol=ETHUSDT") as ws:
        # Heartbeats keep coming while the client is silent; they do not count as hearing it.
        beat = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
        assert beat["type"] == "heartbeat"
        code, reason = await closed_with(ws)
    assert (code, reason) == (1000, "Idle timeout: nothing received for 0.5 s")
    assert await _hub_empties(app)


async def test_talking_keeps_a_parked_connection_open(live_server: ServerFactory) -> None:
    _, url = await live_server(ws_idle_timeout=0.4)
    async with connect(f"{url}/ws?symbol=ETHUSDT") as ws:
        for _ in range(6):  # 1.2 s: three idle timeouts, each interrupted by a ping
            await asyncio.sleep(0.2)
            await ws.send('{"type":"ping"}')
            assert await receive(ws) == {"type": "pong"}


async def test_a_reader_that_keeps_up_is_never_closed_however_much_it_is_sent(
    live_server: ServerFactory, redis: Redis
) -> None:
    # 300 messages of ~1.6 KB to a client allowed 4 KB unread: over 100 times the limit in
    # all, never more than one message behind.
    app, url = await live_server(ws_send_buffer=4096)
    levels = [{"price": f"{1000 + i}.5", "quantity": "1.25"} for i in range(40)]
    async with connect(f"{url}/ws?type=orderbook&symbol=BTCUSDT") as ws:
        await ready(app, ws)
        for update in range(300):
            await redis.publish("orderbook:all", numbered_book(update, levels))
            assert (await receive(ws))["last_update_id"] == update
    assert app.state.hub.dropped_slow == 0


async def test_a_server_shutting_down_closes_parked_connections_with_1012_and_exits(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> None:
    app = make_app()
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", **UVICORN_OPTIONS
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    async with connect(f"ws://127.0.0.1:{port}/ws?symbol=BTCUSDT") as ws:
        await ws.send('{"type":"ping"}')
        assert await receive(ws) == {"type": "pong"}
        server.should_exit = True  # what SIGTERM sets
        code, _ = await closed_with(ws)
    assert code == 1012
    await asyncio.wait_for(serving, 5)
    assert app.state.hub.clients == 0
