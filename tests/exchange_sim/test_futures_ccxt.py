"""ccxt's binanceusdm against the futures simulator: markets, time, klines, books, live sync.

ccxt is aimed at the simulator by overriding `urls`: the fapi REST bases and the `future` WS
base, which ccxt.pro rewrites from `.../fstream/ws` to `.../fstream/{public,market}/ws/<n>`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest
from aiohttp import web
from sim_support import MINUTE, NOW_MS, START_MS, frozen, with_venue

from exchange_sim import SimConfig, build_app
from exchange_sim.candle import decimal_str
from exchange_sim.futures import FuturesVenue
from exchange_sim.futures.book import step_of, step_of_id
from exchange_sim.state import SimState

BTC = "BTC/USDT:USDT"


@dataclass
class Served:
    state: SimState
    venue: FuturesVenue
    urls: dict[str, Any]


@asynccontextmanager
async def serving(config: SimConfig, **options: Any) -> AsyncIterator[Served]:
    state = SimState.create(config)
    venue = FuturesVenue(state, **options)
    app = build_app(state, with_venue(state, futures=venue))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host = f"127.0.0.1:{runner.addresses[0][1]}"
    api = {
        name: f"http://{host}/fapi/{version}"
        for name, version in (("fapiPublic", "v1"), ("fapiPublicV2", "v2"), ("fapiPublicV3", "v3"))
    }
    urls = {"api": api | {"ws": {"future": f"ws://{host}/fstream/ws"}}}
    try:
        yield Served(state, venue, urls)
    finally:
        await runner.cleanup()


@asynccontextmanager
async def rest_client(sim: Served, **config: Any) -> AsyncIterator[Any]:
    exchange = ccxt_async.binanceusdm({"urls": sim.urls, **config})
    try:
        yield exchange
    finally:
        await exchange.close()


@asynccontextmanager
async def pro_client(sim: Served) -> AsyncIterator[Any]:
    exchange = ccxt_pro.binanceusdm({"urls": sim.urls})
    try:
        yield exchange
    finally:
        await exchange.close()


def exact(value: float) -> Decimal:
    """A float ccxt parsed from one of our decimal strings, back as that decimal."""
    return Decimal(repr(value))


async def test_load_markets_finds_linear_perpetuals() -> None:
    async with serving(frozen()) as sim, rest_client(sim) as ex:
        markets = await ex.load_markets()
        assert set(markets) == {BTC, "ETH/USDT:USDT"}
        btc = markets[BTC]
        assert (btc["id"], btc["type"], btc["settle"]) == ("BTCUSDT", "swap", "USDT")
        assert btc["swap"] and btc["linear"] and btc["contract"] and btc["active"]
        assert btc["precision"]["price"] == 0.01 and btc["created"] == START_MS
        assert sim.state.stats.requests["/fapi/v1/exchangeInfo"] == 1
        assert not any(path.startswith("/api/") for path in sim.state.stats.requests)


async def test_fetch_time() -> None:
    async with serving(frozen()) as sim, rest_client(sim) as ex:
        assert await ex.fetch_time(params={"type": "swap", "subType": "linear"}) == NOW_MS


async def test_fetch_ohlcv_returns_the_series_exactly() -> None:
    async with serving(frozen()) as sim, rest_client(sim, number=str) as ex:
        since = START_MS + 3 * 86_400_000
        candles = await ex.fetch_ohlcv(BTC, "1m", since=since, limit=1000)
        rows = sim.state.market.klines("BTCUSDT", since, since + 999 * MINUTE)
        assert candles == [r[:6] for r in rows]
        newest = await ex.fetch_ohlcv(BTC, "1h", limit=3)
        hour = NOW_MS - NOW_MS % 3_600_000
        assert [c[0] for c in newest] == [hour - 2 * 3_600_000, hour - 3_600_000, hour]


async def test_fetch_order_book_is_the_snapshot() -> None:
    async with serving(frozen()) as sim, rest_client(sim) as ex:
        book = await ex.fetch_order_book(BTC, 100)
        truth = sim.venue.books.get("BTCUSDT")
        snap = truth.snapshot(step_of(NOW_MS), 100)
        assert book["nonce"] == truth.last_id(step_of(NOW_MS))
        assert book["timestamp"] == step_of(NOW_MS) * 100  # ccxt reads T, the engine time
        assert [[exact(p), exact(q)] for p, q in book["bids"]] == [
            [Decimal(decimal_str(p)), Decimal(decimal_str(q))] for p, q in snap.bids
        ]
        assert [[exact(p), exact(q)] for p, q in book["asks"]] == [
            [Decimal(decimal_str(p)), Decimal(decimal_str(q))] for p, q in snap.asks
        ]


async def test_a_429_reaches_ccxt_as_ddos_protection() -> None:
    async with serving(frozen(), weight_limit=1) as sim, rest_client(sim) as ex:
        sim.venue.limiter.clock = lambda: 1_000_000.0  # no minute boundary mid-test
        await ex.fetch_time(params={"type": "swap", "subType": "linear"})
        with pytest.raises(ccxt.DDoSProtection, match="429"):  # ccxt's class for 418 and 429
            await ex.fetch_time(params={"type": "swap", "subType": "linear"})


async def test_watch_ohlcv_closes_minutes_like_rest() -> None:
    start = NOW_MS - NOW_MS % MINUTE + MINUTE - 12_000
    config = frozen(clock_origin_ms=start, clock_speed=60.0)  # a minute a second
    async with serving(config, kline_push_interval=0.05) as sim, pro_client(sim) as ex:
        deadline = time.monotonic() + 2.6
        seen: dict[int, list[Any]] = {}
        while time.monotonic() < deadline:
            # ccxt returns the candles updated since the last call; the newest value wins.
            seen.update((c[0], c) for c in await ex.watch_ohlcv(BTC, "1m"))
        now = sim.state.clock.now_ms()
        closed = [c for t, c in sorted(seen.items()) if t + MINUTE <= now - 1_000]
        assert len(closed) >= 2
        rows = sim.state.market.klines("BTCUSDT", closed[0][0], closed[-1][0])
        assert [[c[0], *map(exact, c[1:6])] for c in closed] == [
            [r[0], *(Decimal(str(v)) for v in r[1:6])] for r in rows
        ]


async def test_watch_order_book_stays_in_sync_over_many_diffs() -> None:
    async with serving(frozen(clock_speed=1.0)) as sim, pro_client(sim) as ex:
        truth = sim.venue.books.get("BTCUSDT")
        nonces = []
        for _ in range(12):
            book = await ex.watch_order_book(BTC)
            nonces.append(book["nonce"])
            snap = truth.snapshot(step_of_id(book["nonce"]), 1000)
            assert [[exact(p), exact(q)] for p, q in book["bids"]] == [
                [Decimal(decimal_str(p)), Decimal(decimal_str(q))] for p, q in snap.bids
            ]
            assert [[exact(p), exact(q)] for p, q in book["asks"]] == [
                [Decimal(decimal_str(p)), Decimal(decimal_str(q))] for p, q in snap.asks
            ]
        assert len(set(nonces)) >= 8  # the book moved through many diff events
        assert sim.state.stats.requests["/fapi/v1/depth"] == 1  # one snapshot, then diffs


async def test_watch_order_book_notices_a_missing_diff() -> None:
    async with serving(frozen(clock_speed=1.0)) as sim, pro_client(sim) as ex:
        for _ in range(3):
            await ex.watch_order_book(BTC)
        sim.venue.faults.skip_diff_next = 1
        with pytest.raises(ccxt.ChecksumError):
            for _ in range(10):
                await ex.watch_order_book(BTC)
        book = await ex.watch_order_book(BTC)  # ccxt subscribes again and re-syncs
        truth = sim.venue.books.get("BTCUSDT").snapshot(step_of_id(book["nonce"]), 1000)
        assert exact(book["bids"][0][0]) == Decimal(decimal_str(truth.bids[0][0]))
        assert sim.state.stats.requests["/fapi/v1/depth"] == 2
