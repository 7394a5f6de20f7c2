"""WebSocket streams over loopback: kline and depth shapes, closing minutes, lifecycle."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from sim_support import MINUTE, NOW_MS, collect, frozen

from exchange_sim import SimServer

KLINE_KEYS = {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"}


def fast(**overrides: object) -> Any:
    """Simulated time runs 120x (a minute in 0.5 s), starting 0.2 s before a minute closes."""
    start = NOW_MS - NOW_MS % MINUTE + MINUTE - 24_000
    base: dict[str, object] = {"clock_origin_ms": start, "clock_speed": 120.0,
                               "kline_push_interval": 0.05}  # fmt: skip
    return frozen(**(base | overrides))


async def test_combined_kline_stream_closes_each_minute_exactly_once(
    http: aiohttp.ClientSession,
) -> None:
    async with SimServer(fast()) as sim:
        url = f"{sim.stream_url}/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m"
        async with http.ws_connect(url) as ws:
            messages = await collect(ws, 1.4)
        for m in messages:
            assert set(m) == {"stream", "data"}
            data = m["data"]
            assert m["stream"] == data["s"].lower() + "@kline_1m"
            assert set(data) == {"e", "E", "s", "k"} and data["e"] == "kline"
            assert set(data["k"]) == KLINE_KEYS
            k = data["k"]
            assert k["T"] == k["t"] + 59_999 and k["i"] == "1m" and k["s"] == data["s"]
            assert isinstance(k["o"], str) and isinstance(k["n"], int)
        closed = [m["data"]["k"] for m in messages if m["data"]["k"]["x"]]
        btc = [k["t"] for k in closed if k["s"] == "BTCUSDT"]
        assert len(btc) >= 2 and len(btc) == len(set(btc))
        assert btc == [btc[0] + i * MINUTE for i in range(len(btc))]
        final = closed[0]
        rest = sim.source.klines(final["s"], final["t"], final["t"])[0]
        assert [final["o"], final["h"], final["l"], final["c"], final["v"]] == rest[1:6]
        assert final["n"] == rest[8]


async def test_raw_stream_sends_bare_kline_events_at_the_push_interval(
    http: aiohttp.ClientSession,
) -> None:
    async with SimServer(frozen(kline_push_interval=0.05)) as sim:
        url = f"{sim.stream_url}/ws/btcusdt@kline_1m"
        async with http.ws_connect(url) as ws:
            messages = await collect(ws, 0.5)
    assert 5 <= len(messages) <= 12
    assert all(m["e"] == "kline" and not m["k"]["x"] for m in messages)


async def test_depth_stream_is_a_partial_book_without_symbol(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen()) as sim:
        url = f"{sim.stream_url}/stream?streams=ethusdt@depth5@100ms/btcusdt@depth20@100ms"
        async with http.ws_connect(url) as ws:
            messages = await collect(ws, 0.35)
    streams = {m["stream"] for m in messages}
    assert streams == {"ethusdt@depth5@100ms", "btcusdt@depth20@100ms"}
    for m in messages:
        assert set(m["data"]) == {"lastUpdateId", "bids", "asks"}
        assert len(m["data"]["bids"]) == (5 if m["stream"].startswith("eth") else 20)
    assert len(messages) >= 4


async def test_unknown_streams_are_rejected(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen()) as sim:
        for name in ("dogeusdt@kline_1m", "BTCUSDT@kline_1m", "btcusdt@trade"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await http.ws_connect(f"{sim.stream_url}/ws/{name}")
            assert info.value.status == 400


async def test_subscribe_messages_are_answered_like_binance(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen()) as sim, http.ws_connect(f"{sim.stream_url}/stream") as ws:
        await ws.send_str('{"method":"SUBSCRIBE","params":["btcusdt@depth5"],"id":3}')
        first = await ws.receive_json(timeout=1)
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":4}')
        rest = await collect(ws, 0.3)
    assert first == {"result": None, "id": 3}
    assert {"result": ["btcusdt@depth5"], "id": 4} in rest


async def test_server_pings_and_shutdown_event(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen(ping_interval=0.1)) as sim:
        url = f"{sim.stream_url}/ws/btcusdt@kline_1m"
        async with http.ws_connect(url, autoping=False) as ws:
            msg = await ws.receive(timeout=1)
            while msg.type == aiohttp.WSMsgType.TEXT:
                msg = await ws.receive(timeout=1)
            assert msg.type == aiohttp.WSMsgType.PING
            await ws.pong(msg.data)
            await sim.announce_shutdown()
            events = [m for m in await collect(ws, 0.3) if m.get("e") == "serverShutdown"]
    assert len(events) == 1 and events[0]["E"] == NOW_MS


async def test_connections_end_after_the_maximum_lifetime(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen(max_connection_seconds=0.2)) as sim:
        # Timed from before the handshake: the server counts the lifetime from its own side
        # of it, which a slow handshake would otherwise eat into.
        started = time.monotonic()
        async with http.ws_connect(f"{sim.stream_url}/ws/btcusdt@depth5") as ws:
            while (await ws.receive(timeout=2)).type == aiohttp.WSMsgType.TEXT:
                pass
            assert 0.15 < time.monotonic() - started < 1.5
        await asyncio.sleep(0.05)
        assert sim.stats.ws_open == 0 and sim.stats.ws_connections == 1
