"""USDⓈ-M WebSocket frames over loopback: paths, kline x flag, U/u/pu, the gap fault, requests."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from sim_support import MINUTE, NOW_MS, collect, frozen, with_venue

from exchange_sim import SimConfig, build_app
from exchange_sim.candle import decimal_str
from exchange_sim.futures import VENUE, FuturesVenue
from exchange_sim.futures.book import step_of_id
from exchange_sim.state import SimState

KLINE_KEYS = {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"}
DEPTH_KEYS = {"e", "E", "T", "s", "U", "u", "pu", "b", "a"}


@dataclass
class Served:
    ws: str
    state: SimState
    venue: FuturesVenue


@asynccontextmanager
async def serving(config: SimConfig, **options: Any) -> AsyncIterator[Served]:
    state = SimState.create(config)
    venue = FuturesVenue(state, **options)
    app = build_app(state, with_venue(state, futures=venue))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield Served(f"ws://127.0.0.1:{runner.addresses[0][1]}/fstream", state, venue)
    finally:
        await runner.cleanup()


def live() -> SimConfig:
    """Simulated time at wall speed, so the book moves one step per 100 ms."""
    return frozen(clock_speed=1.0)


def fast() -> SimConfig:
    """Simulated time at 120x (a minute in 0.5 s), starting 0.2 s before a minute closes."""
    start = NOW_MS - NOW_MS % MINUTE + MINUTE - 24_000
    return frozen(clock_origin_ms=start, clock_speed=120.0)


def assert_chained(events: list[dict[str, Any]]) -> None:
    for prev, event in itertools.pairwise(events):
        assert event["pu"] == prev["u"]
        assert event["pu"] < event["U"] <= event["u"]


async def test_kline_closes_each_minute_once_and_matches_rest(
    http: aiohttp.ClientSession,
) -> None:
    async with (
        serving(fast(), kline_push_interval=0.05) as sim,
        http.ws_connect(f"{sim.ws}/market/ws/btcusdt@kline_1m") as ws,
    ):
        messages = await collect(ws, 1.4)
    assert all(set(m) == {"e", "E", "s", "k"} and m["e"] == "kline" for m in messages)
    assert all(set(m["k"]) == KLINE_KEYS and m["k"]["i"] == "1m" for m in messages)
    closed = [m["k"] for m in messages if m["k"]["x"]]
    opens = [k["t"] for k in closed]
    assert len(opens) >= 2 and opens == [opens[0] + i * MINUTE for i in range(len(opens))]
    rest = sim.state.market.klines("BTCUSDT", opens[0], opens[-1])
    assert [[k["t"], k["o"], k["h"], k["l"], k["c"], k["v"]] for k in closed] == [
        r[:6] for r in rest
    ]
    assert [k["n"] for k in closed] == [r[8] for r in rest]
    assert [(k["q"], k["V"], k["Q"]) for k in closed] == [(r[7], r[9], r[10]) for r in rest]


async def test_kline_updates_every_250_ms_by_default(http: aiohttp.ClientSession) -> None:
    async with serving(frozen()) as sim, http.ws_connect(f"{sim.ws}/ws/ethusdt@kline_1m") as ws:
        messages = await collect(ws, 1.1)
    assert 3 <= len(messages) <= 6
    assert all(m["s"] == "ETHUSDT" and not m["k"]["x"] for m in messages)


async def test_continuous_kline_is_keyed_by_pair(http: aiohttp.ClientSession) -> None:
    async with serving(frozen(), kline_push_interval=0.05) as sim:
        url = f"{sim.ws}/market/ws/btcusdt_perpetual@continuousKline_1m"
        async with http.ws_connect(url) as ws:
            messages = await collect(ws, 0.3)
    assert messages
    for m in messages:
        assert set(m) == {"e", "E", "ps", "ct", "k"}
        assert (m["e"], m["ps"], m["ct"]) == ("continuous_kline", "BTCUSDT", "PERPETUAL")
        assert set(m["k"]) == KLINE_KEYS - {"s"}


async def test_diff_events_chain_by_pu_and_rebuild_the_book(http: aiohttp.ClientSession) -> None:
    async with serving(live()) as sim:
        book = sim.venue.books.get("BTCUSDT")
        async with http.ws_connect(f"{sim.ws}/public/ws/btcusdt@depth@100ms") as ws:
            events = await collect(ws, 1.2)
    assert 5 <= len(events) <= 14
    assert all(set(e) == DEPTH_KEYS and e["e"] == "depthUpdate" for e in events)
    assert all(e["s"] == "BTCUSDT" and e["T"] <= e["E"] for e in events)
    assert_chained(events)
    # The book before the first event, plus every event, is the book after the last one.
    snap = book.snapshot(step_of_id(events[0]["pu"]), 1000)
    bids = {Decimal(p): Decimal(q) for p, q in _strs(snap.bids)}
    asks = {Decimal(p): Decimal(q) for p, q in _strs(snap.asks)}
    for e in events:
        for side, levels in ((bids, e["b"]), (asks, e["a"])):
            for price, qty in levels:
                if Decimal(qty):
                    side[Decimal(price)] = Decimal(qty)
                else:
                    side.pop(Decimal(price), None)
    final = book.snapshot(step_of_id(events[-1]["u"]), 1000)
    assert bids == {Decimal(p): Decimal(q) for p, q in _strs(final.bids)}
    assert asks == {Decimal(p): Decimal(q) for p, q in _strs(final.asks)}
    assert max(bids) < min(asks)


def _strs(levels: list[tuple[int, int]]) -> list[tuple[str, str]]:
    return [(decimal_str(p), decimal_str(q)) for p, q in levels]


async def test_the_gap_fault_skips_one_diff_event(http: aiohttp.ClientSession) -> None:
    async with (
        serving(live()) as sim,
        http.ws_connect(f"{sim.ws}/public/ws/btcusdt@depth@100ms") as ws,
    ):
        events = await collect(ws, 0.35)
        sim.venue.faults.skip_diff_next = 1
        events += await collect(ws, 0.6)
    breaks = [i for i in range(1, len(events)) if events[i]["pu"] != events[i - 1]["u"]]
    assert len(breaks) == 1
    before, after = events[breaks[0] - 1], events[breaks[0]]
    assert after["pu"] > before["u"]  # the missing event's u
    assert_chained(events[: breaks[0]])
    assert_chained(events[breaks[0] :])


async def test_diff_speeds(http: aiohttp.ClientSession) -> None:
    async with serving(live()) as sim:
        url = f"{sim.ws}/public/stream?streams=btcusdt@depth/ethusdt@depth@500ms"
        async with http.ws_connect(url) as ws:
            messages = await collect(ws, 1.1)
    assert all(set(m) == {"stream", "data"} for m in messages)
    by_stream = {
        name: [m["data"] for m in messages if m["stream"] == name]
        for name in ("btcusdt@depth", "ethusdt@depth@500ms")
    }
    assert 3 <= len(by_stream["btcusdt@depth"]) <= 6
    assert 2 <= len(by_stream["ethusdt@depth@500ms"]) <= 4
    for events in by_stream.values():
        assert_chained(events)


async def test_partial_book_is_shaped_like_a_diff_event(http: aiohttp.ClientSession) -> None:
    async with serving(live()) as sim:
        book = sim.venue.books.get("ETHUSDT")
        async with http.ws_connect(f"{sim.ws}/public/ws/ethusdt@depth5@100ms") as ws:
            events = await collect(ws, 0.6)
    assert len(events) >= 4
    assert_chained(events)
    for e in events:
        assert set(e) == DEPTH_KEYS and e["s"] == "ETHUSDT"
        assert len(e["b"]) == len(e["a"]) == 5
        top = book.snapshot(step_of_id(e["u"]), 5)
        assert [e["b"], e["a"]] == [
            [[p, q] for p, q in _strs(top.bids)],
            [[p, q] for p, q in _strs(top.asks)],
        ]


async def test_subscribe_list_unsubscribe(http: aiohttp.ClientSession) -> None:
    async with (
        serving(live(), kline_push_interval=0.05) as sim,
        http.ws_connect(f"{sim.ws}/market/ws/0") as ws,
    ):  # ccxt's stream index
        await ws.send_str('{"method":"SUBSCRIBE","params":["btcusdt@kline_1m"],"id":1}')
        first = orjson.loads((await ws.receive(timeout=2)).data)
        assert first == {"result": None, "id": 1}
        assert (await collect(ws, 0.2))[-1]["e"] == "kline"
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":2}')
        listed = [m for m in await collect(ws, 0.2) if "id" in m]
        assert listed == [{"result": ["btcusdt@kline_1m"], "id": 2}]
        await ws.send_str('{"method":"UNSUBSCRIBE","params":["btcusdt@kline_1m"],"id":3}')
        rest = await collect(ws, 0.3)
        acked = next(i for i, m in enumerate(rest) if m.get("id") == 3)
        assert rest[acked] == {"result": None, "id": 3} and not rest[acked + 1 :]
        await ws.send_str('{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":4}')
        error = orjson.loads((await ws.receive(timeout=2)).data)
        assert error["id"] == 4 and error["error"]["code"] == 2


async def test_every_path_form_is_served(http: aiohttp.ClientSession) -> None:
    async with serving(live(), kline_push_interval=0.05) as sim:
        for path in (
            "/ws/btcusdt@kline_1m",
            "/ws/btcusdt@kline_1m/3",
            "/market/ws/btcusdt@kline_1m",
            "/public/ws/btcusdt@depth@100ms",
            "/ws/btcusdt@depth20@100ms/btcusdt@kline_1m",
            "/stream?streams=btcusdt@kline_1m",
            "/market/stream?streams=btcusdt@kline_1m",
        ):
            async with http.ws_connect(f"{sim.ws}{path}") as ws:
                assert await collect(ws, 0.15), path
        async with http.get(sim.ws.replace("ws:", "http:") + "/ws/btcusdt@kline_2m") as resp:
            assert resp.status == 400 and (await resp.json())["code"] == -1121


async def test_strict_routes_silence_streams_on_the_wrong_route(
    http: aiohttp.ClientSession,
) -> None:
    async with serving(live(), kline_push_interval=0.05, strict_routes=True) as sim:
        expected = {
            "/public/ws/btcusdt@kline_1m": False,
            "/market/ws/btcusdt@kline_1m": True,
            "/ws/btcusdt@kline_1m": False,  # unrouted connections get public streams only
            "/ws/btcusdt@depth@100ms": True,
            "/market/ws/btcusdt@depth@100ms": False,
        }
        for path, speaks in expected.items():
            async with http.ws_connect(f"{sim.ws}{path}") as ws:
                assert bool(await collect(ws, 0.3)) is speaks, path


async def test_the_server_pings(http: aiohttp.ClientSession) -> None:
    async with (
        serving(frozen(), ping_interval=0.2) as sim,
        http.ws_connect(f"{sim.ws}/ws", autoping=False) as ws,
    ):
        msg = await ws.receive(timeout=2)
        assert msg.type == aiohttp.WSMsgType.PING
        await ws.pong(msg.data)


async def test_spot_streams_keep_their_paths(http: aiohttp.ClientSession) -> None:
    async with serving(frozen(kline_push_interval=0.05)) as sim:
        spot = sim.ws.removesuffix("/fstream")
        async with http.ws_connect(f"{spot}/ws/btcusdt@depth5@100ms") as ws:
            messages = await collect(ws, 0.3)
    assert messages and all(set(m) == {"lastUpdateId", "bids", "asks"} for m in messages)


async def test_more_than_ten_messages_a_second_disconnects(http: aiohttp.ClientSession) -> None:
    async with serving(frozen()) as sim:
        async with http.ws_connect(f"{sim.ws}/ws") as ws:
            for ident in range(10):
                await ws.send_str(f'{{"method":"LIST_SUBSCRIPTIONS","id":{ident}}}')
            replies = await collect(ws, 0.3)
            assert [r["id"] for r in replies] == list(range(10))
        async with http.ws_connect(f"{sim.ws}/ws") as ws:
            for ident in range(11):
                await ws.send_str(f'{{"method":"LIST_SUBSCRIPTIONS","id":{ident}}}')
            replies = await collect(ws, 1.0)
            assert len(replies) == 10 and ws.closed and ws.close_code == 1008


def test_the_venue_is_kept_on_the_app() -> None:
    state = SimState.create(frozen())
    venue = FuturesVenue(state, weight_limit=7)
    app = build_app(state, with_venue(state, futures=venue))
    assert app[VENUE] is venue and venue.limiter.limit == 7
