"""/ws against a real uvicorn: subscriptions, live buckets from the collector's minutes,
heartbeats, silence, limits and slow clients."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from api_helpers import (
    ServerFactory,
    closed_with,
    collector_message,
    minute,
    numbered_book,
    ready,
    receive,
    spot,
    store_minutes,
)
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api_server.ws_hub import ALL, Topic
from api_server.ws_protocol import UVICORN_OPTIONS
from linkora_core.rollup_passes import roll_market
from linkora_core.timeframes import MINUTE_MS

BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) * 1000


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("timeframe=7", "Invalid timeframe: 7"),
        ("type=trades", "Invalid type: trades"),
        ("symbol=b@d", "Invalid symbol: B@D"),
    ],
)
async def test_invalid_subscriptions_are_closed_with_1008_and_the_reason(
    live_server: ServerFactory, query: str, reason: str
) -> None:
    _, url = await live_server()
    async with connect(f"{url}/ws?{query}") as ws:
        assert await closed_with(ws) == (1008, reason)


@pytest.mark.parametrize("name", ["x" * 200, "\u00e9" * 100, "\u20ac" * 80])
async def test_an_overlong_close_reason_is_cut_to_123_bytes_of_whole_characters(
    live_server: ServerFactory, name: str
) -> None:
    _, url = await live_server()
    async with connect(f"{url}/ws?type={name}") as ws:
        code, reason = await closed_with(ws)
    assert code == 1008
    assert len(reason.encode()) <= 123 and len(reason.encode()) > 120 - 3
    assert f"Invalid type: {name}".startswith(reason)


async def test_handshakes_are_rate_limited_per_address(live_server: ServerFactory) -> None:
    _, url = await live_server(ws_handshake_rate=0.01, ws_handshake_burst=3)
    for _ in range(3):
        async with connect(f"{url}/ws") as ws:
            await ws.send('{"type":"ping"}')
            assert await receive(ws) == {"type": "pong"}
    async with connect(f"{url}/ws") as refused:
        assert await closed_with(refused) == (1008, "Too many connection attempts; retry later")


async def test_connections_beyond_the_global_cap_are_told_to_try_again_later(
    live_server: ServerFactory,
) -> None:
    app, url = await live_server(ws_max_connections=2, ws_max_connections_per_ip=10)
    async with connect(f"{url}/ws") as first, connect(f"{url}/ws") as second:
        await first.send('{"type":"ping"}')
        await second.send('{"type":"ping"}')
        assert await receive(first) == await receive(second) == {"type": "pong"}
        async with connect(f"{url}/ws") as third:
            code, reason = await closed_with(third)
            assert (code, reason) == (1013, "Server at connection capacity; try again later")
    # Capacity frees up as clients leave.
    for _ in range(100):
        if app.state.hub.clients == 0:
            break
        await asyncio.sleep(0.02)
    async with connect(f"{url}/ws") as again:
        await again.send('{"type":"ping"}')
        assert await receive(again) == {"type": "pong"}


async def test_ping_is_answered_and_heartbeats_arrive(live_server: ServerFactory) -> None:
    _, url = await live_server(ws_heartbeat_interval=0.2)
    async with connect(f"{url}/ws?symbol=BTCUSDT") as ws:
        await ws.send('{"type":"ping"}')
        messages = [orjson.loads(await asyncio.wait_for(ws.recv(), 2)) for _ in range(3)]
    assert {"type": "pong"} in messages
    assert any(m.get("type") == "heartbeat" and isinstance(m["timestamp"], int) for m in messages)


async def test_a_silent_client_gets_a_close_frame(live_server: ServerFactory) -> None:
    _, url = await live_server(ws_idle_timeout=0.5)
    async with connect(f"{url}/ws") as ws:
        code, reason = await closed_with(ws)
    assert code == 1000 and reason.startswith("Idle timeout")


async def test_connections_per_ip_are_limited(live_server: ServerFactory) -> None:
    _, url = await live_server(ws_max_connections_per_ip=2)
    async with connect(f"{url}/ws") as first, connect(f"{url}/ws") as second:
        await first.send('{"type":"ping"}')
        await second.send('{"type":"ping"}')
        async with connect(f"{url}/ws") as third:
            assert await closed_with(third) == (1008, "Too many connections from this address")


async def test_an_oversized_message_closes_with_1009(live_server: ServerFactory) -> None:
    _, url = await live_server(ws_max_message_bytes=100)
    async with connect(f"{url}/ws") as ws:
        await ws.send("x" * 101)
        assert (await closed_with(ws))[0] == 1009


async def test_live_buckets_are_in_order_closed_once_and_end_equal_to_rest(
    live_server: ServerFactory, redis: Redis, clean_db: asyncpg.Pool
) -> None:
    app, url = await live_server(ws_update_interval=0)
    # Two minutes of the first 5m bucket are already stored before anyone subscribes.
    minutes = [
        minute(BASE + i * MINUTE_MS, "10", str(11 + i % 3), "9", str(10 + i % 4), volume=str(i + 1))
        for i in range(12)
    ]
    await store_minutes(clean_db, "BTCUSDT", minutes[:2])
    received: list[dict[str, Any]] = []
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=5") as ws:
        await ready(app, ws)
        for m in minutes[2:]:
            # Each minute first open (twice, the second replacing the first), then closed.
            partial = minute(m.open_time_ms, "10", "10", "10", "10", volume="0.5")
            await redis.publish("candles:all", collector_message("BTCUSDT", partial, closed=False))
            await redis.publish("candles:all", collector_message("BTCUSDT", m, closed=False))
            await redis.publish("candles:all", collector_message("BTCUSDT", m, closed=True))
        await redis.publish("candles:all", collector_message("ETHUSDT", m, closed=True))
        while len(received) < 30:
            received.append(await receive(ws))
        with pytest.raises(TimeoutError):
            received.append(await receive(ws, within=0.3))
    assert {m["symbol"] for m in received} == {"BTCUSDT"}
    stamps = [m["timestamp"] for m in received]
    assert stamps == sorted(stamps)
    closed = [m for m in received if m["closed"]]
    assert [m["timestamp"] for m in closed] == [BASE, BASE + 5 * MINUTE_MS]
    await store_minutes(clean_db, "BTCUSDT", minutes)
    await roll_market(clean_db, spot("BTCUSDT"))
    async with httpx.AsyncClient(base_url=url.replace("ws:", "http:")) as http:
        rest = await http.get("/candles?symbol=BTCUSDT&timeframe=5&start_date=2024-05-01")
    last_of_bucket = {m["timestamp"]: m for m in received}
    for candle in rest.json():
        live = last_of_bucket[candle["timestamp"]]
        assert (
            live["open"],
            live["high"],
            live["low"],
            live["close"],
            live["volume"],
            live["trades"],
        ) == (
            candle["open_price"],
            candle["high_price"],
            candle["low_price"],
            candle["close_price"],
            candle["volume"],
            candle["trades"],
        )


async def test_open_updates_are_throttled_to_the_interval(
    live_server: ServerFactory, redis: Redis
) -> None:
    app, url = await live_server(ws_update_interval=0.5)
    async with connect(f"{url}/ws?symbol=all&timeframe=1H") as ws:
        await ready(app, ws)
        for volume in range(1, 21):
            m = minute(BASE, "10", "11", "9", "10", volume=str(volume))
            await redis.publish("candles:all", collector_message("SOLUSDT", m, closed=False))
        first = await receive(ws, within=2)
        with pytest.raises(TimeoutError):
            await receive(ws, within=0.3)
    assert first["symbol"] == "SOLUSDT" and first["volume"] == "20" and not first["closed"]


async def test_orderbooks_are_passed_through_to_their_subscribers(
    live_server: ServerFactory, redis: Redis
) -> None:
    app, url = await live_server()
    book = {
        "symbol": "BTCUSDT",
        "timestamp": BASE,
        "last_update_id": 5,
        "bids": [{"price": "1", "quantity": "2"}],
        "asks": [],
    }
    async with (
        connect(f"{url}/ws?type=orderbook&symbol=btcusdt") as ws,
        connect(f"{url}/ws?type=orderbook") as everything,
    ):
        await ready(app, ws)
        await ready(app, everything)
        await redis.publish("orderbook:all", orjson.dumps({**book, "symbol": "ETHUSDT"}))
        await redis.publish("orderbook:all", orjson.dumps(book))
        assert await receive(ws) == {**book, "seq": book["last_update_id"]}
        assert (await receive(everything))["symbol"] == "ETHUSDT"
        assert await receive(everything) == {**book, "seq": book["last_update_id"]}


async def test_frames_of_every_length_class_arrive_intact(
    live_server: ServerFactory, redis: Redis
) -> None:
    # Frames written straight to the transport: 7-bit, 16-bit and 64-bit payload lengths.
    app, url = await live_server()
    async with connect(f"{url}/ws?type=orderbook&symbol=BTCUSDT", max_size=None) as ws:
        await ready(app, ws)
        for levels in (0, 20, 2000):
            book = {
                "symbol": "BTCUSDT",
                "timestamp": BASE,
                "last_update_id": levels,
                "bids": [{"price": f"{1000 + i}.25", "quantity": "0.5"} for i in range(levels)],
                "asks": [],
            }
            text = orjson.dumps(book)
            await redis.publish("orderbook:all", text)
            assert await receive(ws) == {**book, "seq": book["last_update_id"]}
        assert len(text) > 65_535


@pytest.mark.parametrize("protocol", ["frame-writer", "plain-asgi"])
async def test_a_client_that_stops_reading_is_closed_and_never_delays_the_others(
    live_server: ServerFactory, redis: Redis, protocol: str
) -> None:
    # The api-server's protocol writes ready frames; under uvicorn's own the app falls back
    # to ASGI sends from a per-client queue. Both bound what a client may leave unread.
    ws = UVICORN_OPTIONS["ws"] if protocol == "frame-writer" else "websockets-sansio"
    app, url = await live_server(ws_send_buffer=65536, ws=ws)
    levels = [{"price": f"{1000 + i}.5", "quantity": "1.25"} for i in range(500)]
    # A small receive buffer, so that the kernel does not absorb megabytes for the stalled one.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    sock.setblocking(False)
    async with (
        connect(f"{url}/ws?type=orderbook", max_queue=1, sock=sock) as stalled,
        connect(f"{url}/ws?type=orderbook") as reader,
    ):
        await ready(app, stalled)
        await ready(app, reader)
        stalled.transport.pause_reading()
        clients = app.state.hub.subscribers(Topic("orderbook", ALL))
        assert len(clients) == 2
        assert all((c.writer is not None) == (protocol == "frame-writer") for c in clients)
        got = 0
        for update in range(600):
            await redis.publish("orderbook:all", numbered_book(update, levels))
            assert (await receive(reader))["last_update_id"] == update
            got += 1
        assert got == 600
        assert app.state.hub.dropped_slow >= 1
        assert app.state.hub.connections("127.0.0.1") == 1
        stalled.transport.resume_reading()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(stalled.recv(), 10)
    # The close frame queues behind the backlog the client never read; when the server gives
    # up waiting for it to drain, the connection is dropped without one.
    if closed.value.rcvd is not None:
        assert closed.value.rcvd.code == 1013 and "slow" in closed.value.rcvd.reason


async def test_more_subscriptions_by_message_up_to_the_limit(
    live_server: ServerFactory, redis: Redis
) -> None:
    app, url = await live_server(ws_max_subscriptions=2)
    book = {"symbol": "ETHUSDT", "timestamp": 1, "last_update_id": 1, "bids": [], "asks": []}
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=5") as ws:
        await ws.send('{"type":"subscribe","stream":"orderbook","symbol":"ethusdt"}')
        await ready(app, ws)
        await redis.publish("orderbook:all", orjson.dumps(book))
        assert await receive(ws) == {**book, "seq": book["last_update_id"]}
        await ws.send('{"type":"subscribe","stream":"candles","symbol":"all","timeframe":"1M"}')
        assert await closed_with(ws) == (1008, "Too many subscriptions")
