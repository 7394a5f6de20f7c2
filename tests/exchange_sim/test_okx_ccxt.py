"""ccxt's OKX clients (REST and pro) against the simulator: markets, time, candles from both
candle endpoints, books, and the books channel's sequence rule.

ccxt builds REST URLs from `urls["api"]["rest"]` and ccxt.pro its stream URLs by appending
"/public" or "/business" to `urls["api"]["ws"]`, so plain http:// and ws:// URLs of the
simulator replace them as they are. ccxt picks /market/history-candles when `since` is older
than 1,439 bars before its own (wall) clock, so the candle tests run the simulator on wall
time over data that starts three days ago.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import ccxt.async_support
import ccxt.pro
import pytest
import pytest_asyncio
from aiohttp import web
from sim_support import MINUTE, NOW_MS, frozen, with_venue

from exchange_sim import SimConfig, build_app
from exchange_sim.okx import OkxSettings, OkxVenue
from exchange_sim.state import SimState

CANDLES = "/api/v5/market/candles"
HISTORY = "/api/v5/market/history-candles"
SYMBOLS = {"BTC/USDT", "ETH/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"}


@dataclass
class Okx:
    url: str
    state: SimState
    venue: OkxVenue


@contextlib.asynccontextmanager
async def serve(config: SimConfig, settings: OkxSettings | None = None) -> AsyncIterator[Okx]:
    """Binance's app from build_app with the OKX routes added, on a free loopback port."""
    state = SimState.create(config)
    venue = OkxVenue(state, settings)
    app = build_app(state, with_venue(state, okx=venue))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield Okx(f"127.0.0.1:{runner.addresses[0][1]}", state, venue)
    finally:
        await runner.cleanup()


def aim(exchange: Any, okx: Okx, types: list[str] | None = None) -> Any:
    exchange.urls["api"] = {"rest": f"http://{okx.url}", "ws": f"ws://{okx.url}/ws/v5"}
    exchange.options["fetchMarkets"] = {"types": types or ["spot", "swap"]}
    return exchange


@contextlib.asynccontextmanager
async def client(okx: Okx, kind: Any = ccxt.async_support.okx, **config: Any) -> AsyncIterator[Any]:
    exchange = aim(kind({"enableRateLimit": False, **config}), okx)
    try:
        yield exchange
    finally:
        await exchange.close()


def dec(value: object) -> Decimal:
    """ccxt's value (a string with `number = str`) as an exact decimal."""
    assert isinstance(value, str), value
    return Decimal(value)


def from_float(value: object) -> Decimal:
    """A float of ccxt's order book (it keeps floats whatever `number` is) as the decimal it
    was parsed from: exact for up to 15 significant digits, which book levels here have."""
    assert isinstance(value, float)
    assert len(Decimal(str(value)).as_tuple().digits) <= 15
    return Decimal(str(value))


def wall_config(**overrides: object) -> SimConfig:
    start = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d")
    base: dict[str, object] = {"symbols": ("BTCUSDT", "ETHUSDT"), "start": start, "seed": 7}
    base.update(overrides)
    return SimConfig(**base)  # type: ignore[arg-type]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def wall() -> AsyncIterator[Okx]:
    async with serve(wall_config()) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def still() -> AsyncIterator[Okx]:
    async with serve(frozen()) as server:
        yield server


async def test_load_markets_and_fetch_time(still: Okx) -> None:
    async with client(still) as okx:
        markets = await okx.load_markets()
        assert set(markets) == SYMBOLS
        spot, swap = markets["BTC/USDT"], markets["BTC/USDT:USDT"]
        assert (spot["id"], spot["spot"], spot["active"]) == ("BTC-USDT", True, True)
        assert (swap["id"], swap["swap"], swap["linear"], swap["settle"]) == (
            "BTC-USDT-SWAP",
            True,
            True,
            "USDT",
        )
        assert swap["contractSize"] == 0.01 and markets["ETH/USDT:USDT"]["contractSize"] == 0.1
        assert spot["precision"]["price"] == 0.01
        assert await okx.fetch_time() == NOW_MS


async def test_load_markets_with_ccxts_default_types_too(still: Okx) -> None:
    """Futures and options (asked per underlying) come back empty, so the default works."""
    async with client(still) as okx:
        aim(okx, still, ["spot", "future", "swap", "option"])
        assert set(await okx.load_markets()) == SYMBOLS
    requests = still.state.stats.requests
    assert requests["/api/v5/public/instruments"] >= 5


def same_as_series(okx: Okx, candles: list[list[Any]], symbol: str) -> None:
    """ccxt's [ts, o, h, l, c, volume] against the simulator's own series, exactly; ccxt
    reads a swap's volume from volCcy, the base amount."""
    first, last = candles[0][0], candles[-1][0]
    ref = okx.state.market.klines(symbol, first, last)
    now = okx.state.clock.now_ms()
    if ref and ref[-1][6] >= now:  # type: ignore[operator]
        ref, candles = ref[:-1], candles[:-1]  # the open bar moved on since it was served
    assert len(ref) == len(candles) and ref
    for got, want in zip(candles, ref, strict=True):
        assert got[0] == want[0]
        assert [dec(x) for x in got[1:]] == [Decimal(str(want[i])) for i in (1, 2, 3, 4, 5)]


@pytest.mark.parametrize("symbol", ["BTC/USDT", "ETH/USDT:USDT"])
async def test_fetch_ohlcv_recent_comes_from_candles_and_is_the_series(
    wall: Okx, symbol: str
) -> None:
    now = wall.state.clock.now_ms()
    since = now - now % MINUTE - 400 * MINUTE
    before = dict(wall.state.stats.requests)
    async with client(wall) as okx:
        await okx.load_markets()
        okx.number = str  # ccxt hands amounts back as the strings it received
        candles = await okx.fetch_ohlcv(symbol, "1m", since, 300)
    assert [c[0] for c in candles] == [since + i * MINUTE for i in range(300)]
    requests = wall.state.stats.requests
    assert requests[CANDLES] == before.get(CANDLES, 0) + 1
    assert requests[HISTORY] == before.get(HISTORY, 0)
    same_as_series(wall, candles, symbol.split(":")[0].replace("/", ""))


@pytest.mark.parametrize("symbol", ["BTC/USDT", "BTC/USDT:USDT"])
async def test_fetch_ohlcv_old_comes_from_history_candles_and_is_the_series(
    wall: Okx, symbol: str
) -> None:
    first = wall.state.market.stores["BTCUSDT"].series.first_ms
    since = first + 37 * MINUTE
    before = wall.state.stats.requests[HISTORY]
    async with client(wall) as okx:
        await okx.load_markets()
        okx.number = str
        candles = await okx.fetch_ohlcv(symbol, "1m", since)
        until = await okx.fetch_ohlcv(symbol, "1m", since, 5, {"until": since + 3 * MINUTE})
    assert wall.state.stats.requests[HISTORY] == before + 2
    # ccxt asks limit=300 but sets after = since + 100 bars (its default limit) first
    assert [c[0] for c in candles] == [since + i * MINUTE for i in range(100)]
    same_as_series(wall, candles, "BTCUSDT")
    assert [c[0] for c in until] == [since + i * MINUTE for i in range(3)]


async def test_fetch_order_book_is_the_simulators_book(still: Okx) -> None:
    async with client(still) as okx:
        book = await okx.fetch_order_book("BTC/USDT", 50)
        swap = await okx.fetch_order_book("BTC/USDT:USDT")
    raw = still.state.market.depth("BTCUSDT", 50)
    assert book["timestamp"] == NOW_MS
    for side in ("bids", "asks"):
        want = raw[side]
        assert isinstance(want, list)
        assert [(from_float(lv[0]), from_float(lv[1])) for lv in book[side]] == [
            (Decimal(p), Decimal(q)) for p, q in want
        ]
        assert len(swap[side]) == 100  # ccxt's default sz
        assert [from_float(lv[1]) for lv in swap[side][:50]] == [Decimal(q) * 100 for _, q in want]


async def test_rate_limited_calls_raise_ccxts_rate_limit_error(still: Okx) -> None:
    async with (
        serve(frozen(), OkxSettings().limited(time=2)) as tight,
        client(tight) as okx,
    ):
        await okx.fetch_time()
        await okx.fetch_time()
        with pytest.raises(ccxt.RateLimitExceeded):
            await okx.fetch_time()
        assert tight.venue.limiter.rejected["/api/v5/public/time"] == 1


async def test_ccxts_own_throttle_stays_under_the_documented_limits(wall: Okx) -> None:
    """With ccxt's rateLimit on, 45 candle calls in a burst are never refused."""
    wall.venue.limiter.reset()
    async with client(wall, enableRateLimit=True) as okx:
        await okx.load_markets()
        now = wall.state.clock.now_ms()
        calls = [okx.fetch_ohlcv("BTC/USDT", "1m", now - i * 60 * MINUTE, 10) for i in range(45)]
        pages = await asyncio.gather(*calls)
    assert all(len(p) == 10 for p in pages[1:])
    assert wall.venue.limiter.rejections == 0


# -- ccxt.pro ---------------------------------------------------------------------------


async def test_watch_ohlcv_follows_the_bar_and_its_close() -> None:
    now = datetime.now(UTC)
    boundary = (int(now.timestamp() * 1000) // MINUTE + 2) * MINUTE
    config = wall_config(clock_origin_ms=boundary - 1500)
    settings = OkxSettings(candle_push_interval=0.3)
    async with serve(config, settings) as sim, client(sim, ccxt.pro.okx) as okx:
        okx.number = str
        seen: list[list[Any]] = []
        while not seen or seen[-1][0] < boundary or len(seen) < 8:
            candles = await asyncio.wait_for(okx.watch_ohlcv("BTC/USDT", "1m"), 5)
            seen.append(list(candles[-1]))
        stored = okx.ohlcvs["BTC/USDT"]["1m"]
        closed = next(c for c in stored if c[0] == boundary - MINUTE)
        (ref,) = sim.state.market.klines("BTCUSDT", boundary - MINUTE, boundary - MINUTE)
    assert [dec(x) for x in closed[1:]] == [Decimal(str(ref[i])) for i in (1, 2, 3, 4, 5)]
    assert {c[0] for c in seen} == {boundary - MINUTE, boundary}
    assert sim.state.stats.ws_connections == 1  # one /business connection


async def test_watch_order_book_stays_consistent_over_updates() -> None:
    settings = OkxSettings(book_push_interval=0.03)
    async with serve(frozen(clock_speed=1.0), settings) as sim, client(sim, ccxt.pro.okx) as okx:
        sim.venue.book.set(checksum=True)  # ccxt reads no checksum any more; harmless
        nonces = []
        for _ in range(25):
            book = await asyncio.wait_for(okx.watch_order_book("BTC/USDT"), 5)
            bids, asks = book["bids"], book["asks"]
            assert len(bids) == len(asks) == 400
            assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
            assert [p for p, _ in asks] == sorted(p for p, _ in asks)
            assert bids[0][0] < asks[0][0]
            nonces.append(book["nonce"])
        stream = sim.venue.hub.books["BTC-USDT"]
    assert nonces == sorted(nonces) and len(set(nonces)) > 10
    assert stream.book is not None and nonces[-1] <= stream.book.seq


async def test_watch_order_book_raises_invalid_nonce_on_a_gap_and_resubscribes() -> None:
    settings = OkxSettings(book_push_interval=0.03)
    async with serve(frozen(clock_speed=1.0), settings) as sim, client(sim, ccxt.pro.okx) as okx:
        for _ in range(3):
            await asyncio.wait_for(okx.watch_order_book("BTC/USDT"), 5)
        sim.venue.book.set(skip_next=1)
        with pytest.raises(ccxt.InvalidNonce):
            for _ in range(20):
                await asyncio.wait_for(okx.watch_order_book("BTC/USDT"), 5)
        book = await asyncio.wait_for(okx.watch_order_book("BTC/USDT"), 5)
        assert len(book["bids"]) == 400  # a fresh snapshot after subscribing again


async def test_watch_order_book_accepts_heartbeats() -> None:
    settings = OkxSettings(book_push_interval=0.03, heartbeat_seconds=0.2)
    async with serve(frozen(clock_speed=1.0), settings) as sim, client(sim, ccxt.pro.okx) as okx:
        first = await asyncio.wait_for(okx.watch_order_book("ETH/USDT:USDT"), 5)
        nonce = first["nonce"]
        sim.venue.book.set(quiet=True)
        books = [await asyncio.wait_for(okx.watch_order_book("ETH/USDT:USDT"), 5) for _ in range(4)]
    assert books[-1]["nonce"] >= nonce and len(books[-1]["asks"]) == 400
