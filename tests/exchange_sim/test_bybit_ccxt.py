"""ccxt's Bybit clients (REST and pro) against the simulator: markets, time, candles, books.

ccxt builds every REST URL from `urls["api"][<api name>]` (templated with `{hostname}` only
when the template has one), so a plain `http://127.0.0.1:PORT` replaces them as is; ccxt.pro
keeps its stream URLs in `urls["api"]["ws"]["public"][<category>]`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support
import ccxt.pro
import pytest
import pytest_asyncio
from sim_support import MINUTE, NOW_MS, frozen

from exchange_sim import SimServer

REST_APIS = ("spot", "futures", "v2", "public", "private")
SYMBOLS = {"BTC/USDT", "ETH/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"}


def aim(exchange: Any, sim: SimServer) -> Any:
    api: dict[str, object] = {name: sim.rest_url for name in REST_APIS}
    ws = exchange.urls["api"].get("ws")
    if ws is not None:
        ws["public"] = {c: f"{sim.stream_url}/v5/public/{c}" for c in ("spot", "linear")}
        api["ws"] = ws
    exchange.urls["api"] = api
    # Only the categories the simulator serves; no clock probe before calls.
    exchange.options["fetchMarkets"] = {"types": ["spot", "linear"]}
    exchange.options["adjustForTimeDifference"] = False
    return exchange


def dec(value: object) -> Decimal:
    """ccxt's float (or, with number=str, its string) as the decimal it was parsed from."""
    return Decimal(str(value))


@pytest_asyncio.fixture(loop_scope="session")
async def client(sim: SimServer) -> AsyncIterator[Any]:
    exchange = aim(ccxt.async_support.bybit({"enableRateLimit": False}), sim)
    try:
        yield exchange
    finally:
        await exchange.close()


async def test_load_markets_and_fetch_time(sim: SimServer, client: Any) -> None:
    markets = await client.load_markets()
    assert set(markets) == SYMBOLS
    spot, perp = markets["BTC/USDT"], markets["BTC/USDT:USDT"]
    assert (spot["id"], spot["spot"], spot["active"]) == ("BTCUSDT", True, True)
    assert (perp["id"], perp["swap"], perp["linear"], perp["settle"]) == (
        "BTCUSDT",
        True,
        True,
        "USDT",
    )
    assert spot["precision"]["price"] == 0.01
    assert await client.fetch_time() == NOW_MS


@pytest.mark.parametrize("symbol", ["BTC/USDT", "BTC/USDT:USDT"])
async def test_fetch_ohlcv_is_the_series_exactly(sim: SimServer, client: Any, symbol: str) -> None:
    client.number = str  # ccxt's switch to hand amounts back as the strings it received
    since = NOW_MS - NOW_MS % MINUTE - 500 * MINUTE
    try:
        candles = await client.fetch_ohlcv(symbol, "1m", since, 300)
    finally:
        client.number = float
    reference = sim.source.klines("BTCUSDT", since, since + 299 * MINUTE)
    assert len(candles) == 300
    for got, ref in zip(candles, reference, strict=True):
        assert got[0] == ref[0]
        assert [Decimal(x) for x in got[1:]] == [Decimal(str(ref[i])) for i in (1, 2, 3, 4, 5)]
    hours = await client.fetch_ohlcv("ETH/USDT", "1h", since - since % 3_600_000, 5)
    ref_hours = sim.source.klines(
        "ETHUSDT", since - since % 3_600_000, since + 5 * MINUTE * 60, "1h"
    )
    assert [[h[0], dec(h[4])] for h in hours] == [[r[0], Decimal(str(r[4]))] for r in ref_hours[:5]]


async def test_fetch_order_book(sim: SimServer, client: Any) -> None:
    spot = await client.fetch_order_book("BTC/USDT")
    assert len(spot["bids"]) == len(spot["asks"]) == 50  # ccxt's spot default
    assert spot["timestamp"] == NOW_MS
    assert spot["bids"][0][0] < spot["asks"][0][0]
    perp = await client.fetch_order_book("ETH/USDT:USDT", 10)
    assert len(perp["bids"]) == 10
    assert [b[0] for b in perp["bids"]] == sorted((b[0] for b in perp["bids"]), reverse=True)
    assert sim.stats.bybit_rate_limited == 0


async def test_rate_limit_403_is_ccxt_rate_limit_exceeded() -> None:
    async with SimServer(frozen(bybit_ip_limit=2)) as sim:
        exchange = aim(ccxt.async_support.bybit({"enableRateLimit": False}), sim)
        try:
            await exchange.fetch_time()
            await exchange.fetch_time()
            with pytest.raises(ccxt.RateLimitExceeded):
                await exchange.fetch_time()
        finally:
            await exchange.close()
        assert sim.stats.bybit_rate_limited == 1


async def test_watch_ohlcv_follows_the_minute_across_its_close() -> None:
    boundary = NOW_MS - NOW_MS % MINUTE + MINUTE
    config = frozen(clock_origin_ms=boundary - 1500, clock_speed=1.0, kline_push_interval=0.3)
    async with SimServer(config) as sim:
        exchange = aim(ccxt.pro.bybit({"enableRateLimit": False}), sim)
        try:
            updates = 0
            candles: list[list[Any]] = []
            while not candles or candles[-1][0] < boundary:
                candles = await asyncio.wait_for(exchange.watch_ohlcv("BTC/USDT", "1m"), 5)
                updates += 1
            cache = exchange.ohlcvs["BTC/USDT"]["1m"]
            closed = next(c for c in cache if c[0] == boundary - MINUTE)
            (ref,) = sim.source.klines("BTCUSDT", boundary - MINUTE, boundary - MINUTE)
            assert [dec(x) for x in closed[1:]] == [Decimal(str(ref[i])) for i in (1, 2, 3, 4, 5)]
            assert updates >= 3
            perp = await asyncio.wait_for(exchange.watch_ohlcv("ETH/USDT:USDT", "1m"), 5)
            assert perp[-1][0] == boundary
        finally:
            await exchange.close()


async def test_watch_order_book_stays_equal_to_the_servers_book() -> None:
    # Frozen prices and slow pushes: after each update the client's book must equal the
    # server's copy for that subscription until the next push, 0.3 s later.
    async with SimServer(frozen(bybit_book_push_interval=0.3)) as sim:
        exchange = aim(ccxt.pro.bybit({"enableRateLimit": False}), sim)
        try:
            for symbol, category in (("BTC/USDT", "spot"), ("BTC/USDT:USDT", "linear")):
                for _ in range(5):
                    book = await asyncio.wait_for(exchange.watch_order_book(symbol), 5)
                    (conn,) = [
                        c for c in sim.venues.bybit.hub.connections if c.category == category
                    ]
                    server = conn.feeds["orderbook.50.BTCUSDT"].book
                    assert server is not None
                    assert [[dec(p), dec(q)] for p, q in book["bids"]] == [
                        [Decimal(p) / 10**8, Decimal(q) / 10**8]
                        for p, q in sorted(server.bids.items(), reverse=True)
                    ]
                    assert [[dec(p), dec(q)] for p, q in book["asks"]] == [
                        [Decimal(p) / 10**8, Decimal(q) / 10**8]
                        for p, q in sorted(server.asks.items())
                    ]
            assert sim.stats.bybit_rate_limited == 0
        finally:
            await exchange.close()
