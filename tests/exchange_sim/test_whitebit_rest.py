"""WhiteBIT REST on the simulator: ccxt's whitebit client unchanged, plus the raw bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio
from aiohttp import web
from sim_support import MINUTE, NOW_MS, frozen, with_venue

from exchange_sim.candle import Candle
from exchange_sim.klines import KlineQuery
from exchange_sim.server import build_app
from exchange_sim.state import SimState
from exchange_sim.whitebit import VENUE, Limits, WhitebitVenue

NOW_S = NOW_MS // 1000


@dataclass
class Served:
    base: str
    state: SimState
    venue: WhitebitVenue


@asynccontextmanager
async def serve(state: SimState, venue: WhitebitVenue | None = None) -> AsyncIterator[Served]:
    app = build_app(state, with_venue(state, whitebit=venue or WhitebitVenue(state)))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield Served(f"http://127.0.0.1:{runner.addresses[0][1]}", state, app[VENUE])
    finally:
        await runner.cleanup()


def client_config(base: str) -> dict[str, Any]:
    """ccxt's whitebit pointed at the simulator: only the three public roots change."""
    return {
        "urls": {
            "api": {
                "v1": {"public": f"{base}/api/v1/public"},
                "v2": {"public": f"{base}/api/v2/public"},
                "v4": {"public": f"{base}/api/v4/public"},
            }
        }
    }


def exact(units: int) -> Decimal:
    return Decimal(units).scaleb(-8)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def wb() -> AsyncIterator[Served]:
    async with serve(SimState.create(frozen())) as served:
        yield served


@pytest_asyncio.fixture(loop_scope="session")
async def exchange(wb: Served) -> AsyncIterator[Any]:
    ex = ccxt_async.whitebit(client_config(wb.base))
    ex.number = str  # keep the wire's decimal strings instead of floats
    try:
        yield ex
    finally:
        await ex.close()


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def sim_candles(state: SimState, start_ms: int, limit: int) -> list[Candle]:
    return state.market.candles(KlineQuery("BTCUSDT", "1m", start_ms, None, limit))


async def test_ccxt_load_markets_reads_every_sim_symbol(exchange: Any) -> None:
    markets = await exchange.load_markets()
    assert set(markets) == {"BTC/USDT", "ETH/USDT"}
    btc = markets["BTC/USDT"]
    assert (btc["id"], btc["base"], btc["quote"], btc["type"]) == (
        "BTC_USDT",
        "BTC",
        "USDT",
        "spot",
    )
    assert btc["active"] is True
    assert Decimal(btc["taker"]) == Decimal("0.001")  # "0.1" percent on the wire
    assert Decimal(str(btc["precision"]["price"])) == Decimal("0.01")


async def test_ccxt_fetch_time_is_the_sim_clock_in_whole_seconds(exchange: Any) -> None:
    assert await exchange.fetch_time() == NOW_S * 1000


async def test_ccxt_fetch_ohlcv_since_equals_the_series_exactly(exchange: Any, wb: Served) -> None:
    since = NOW_MS - NOW_MS % MINUTE - 3 * 1440 * MINUTE
    rows = await exchange.fetch_ohlcv("BTC/USDT", "1m", since=since, limit=1440)
    expected = sim_candles(wb.state, since, 1440)
    assert len(rows) == len(expected) == 1440
    for row, c in zip(rows, expected, strict=True):
        assert row[0] == c.open_ms
        got = [Decimal(v) for v in row[1:]]
        assert got == [exact(c.open), exact(c.high), exact(c.low), exact(c.close), exact(c.volume)]


async def test_ccxt_fetch_ohlcv_latest_ends_with_the_open_minute(exchange: Any, wb: Served) -> None:
    rows = await exchange.fetch_ohlcv("BTC/USDT", "1m", limit=5)
    assert [r[0] for r in rows] == [NOW_MS - NOW_MS % MINUTE - k * MINUTE for k in range(4, -1, -1)]
    live = wb.state.market.last_candle("BTCUSDT")
    assert live is not None and Decimal(rows[-1][4]) == exact(live.close)


async def test_ccxt_fetch_order_book_is_the_sim_book(exchange: Any, wb: Served) -> None:
    book = await exchange.fetch_order_book("BTC/USDT", 20)
    raw = wb.state.market.depth("BTCUSDT", 20, update_id=NOW_MS // 100)
    assert book["timestamp"] == NOW_S * 1000
    assert book["bids"] == [[float(p), float(q)] for p, q in raw["bids"]]  # type: ignore[attr-defined]
    assert book["asks"] == [[float(p), float(q)] for p, q in raw["asks"]]  # type: ignore[attr-defined]


async def test_ccxt_fetch_status_reads_the_ping(exchange: Any) -> None:
    assert (await exchange.fetch_status())["status"] == "ok"


async def test_kline_rows_are_time_open_close_high_low_in_seconds(
    http: aiohttp.ClientSession, wb: Served
) -> None:
    start = (NOW_MS - 10 * MINUTE) // 1000
    params = {"market": "BTC_USDT", "interval": "1m", "start": str(start), "limit": "2"}
    async with http.get(f"{wb.base}/api/v1/public/kline", params=params) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert list(body) == ["success", "message", "result"]
    assert body["success"] is True and body["message"] is None
    c = sim_candles(wb.state, start * 1000, 1)[0]
    row = body["result"][0]
    assert row[0] == c.open_ms // 1000 and isinstance(row[0], int)
    assert [Decimal(v) for v in row[1:]] == [
        exact(x) for x in (c.open, c.close, c.high, c.low, c.volume, c.quote_volume)
    ]
    assert all(isinstance(v, str) for v in row[1:]) and len(row) == 7


async def test_kline_without_start_is_the_newest_rows_oldest_first(
    http: aiohttp.ClientSession, wb: Served
) -> None:
    params = {"market": "BTC_USDT", "interval": "1h", "limit": "3"}
    async with http.get(f"{wb.base}/api/v1/public/kline", params=params) as resp:
        rows = (await resp.json())["result"]
    hour = 3600
    assert [r[0] for r in rows] == [NOW_S - NOW_S % hour - k * hour for k in (2, 1, 0)]


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"market": "NOPE_USDT"}, "market", "Market is not available"),
        (
            {"market": "BTC_USDT", "limit": "1441"},
            "limit",
            "limit must be less than or equal to 1440",
        ),
        ({"market": "BTC_USDT", "interval": "7m"}, "interval", "The selected interval is invalid."),
        ({"market": "BTC_USDT", "start": "20", "end": "10"}, "start", None),
        ({"market": "BTC_USDT", "start": "abc"}, "start", None),
    ],
)
async def test_kline_parameter_errors_name_the_field(
    http: aiohttp.ClientSession, wb: Served, params: dict[str, str], field: str, text: str | None
) -> None:
    async with http.get(f"{wb.base}/api/v1/public/kline", params=params) as resp:
        assert resp.status == 422
        body = await resp.json()
    assert body["success"] is False and list(body["message"]) == [field]
    if text is not None:
        assert body["message"][field] == [text]


async def test_orderbook_body_and_default_depth(http: aiohttp.ClientSession, wb: Served) -> None:
    async with http.get(f"{wb.base}/api/v4/public/orderbook/ETH_USDT") as resp:
        body = await resp.json()
    assert list(body) == ["ticker_id", "timestamp", "asks", "bids"]
    assert body["ticker_id"] == "ETH_USDT" and body["timestamp"] == NOW_S
    assert len(body["asks"]) == len(body["bids"]) == 100
    asks = [Decimal(p) for p, _ in body["asks"]]
    bids = [Decimal(p) for p, _ in body["bids"]]
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True) and bids[0] < asks[0]
    async with http.get(f"{wb.base}/api/v4/public/orderbook/ETH_USDT?limit=101") as resp:
        assert (await resp.json())["message"] == {
            "limit": ["limit must be less than or equal to 100"]
        }


async def test_time_ping_status_and_markets_bodies(http: aiohttp.ClientSession, wb: Served) -> None:
    expected = {
        "time": {"time": NOW_S},
        "ping": ["pong"],
        "platform/status": {"status": "1"},
    }
    for path, body in expected.items():
        async with http.get(f"{wb.base}/api/v4/public/{path}") as resp:
            assert await resp.json() == body
    async with http.get(f"{wb.base}/api/v4/public/markets") as resp:
        markets = await resp.json()
    assert [m["name"] for m in markets] == ["BTC_USDT", "ETH_USDT"]
    assert markets[0]["moneyPrec"] == "2" and markets[0]["tradesEnabled"] is True


async def test_each_endpoint_has_its_own_limit_and_429s_are_counted(
    http: aiohttp.ClientSession,
) -> None:
    state = SimState.create(frozen())
    venue = WhitebitVenue(state, Limits(kline=3, orderbook=2, public=50))
    async with serve(state, venue) as wb:
        kline = f"{wb.base}/api/v1/public/kline?market=BTC_USDT&interval=1m&limit=1"
        book = f"{wb.base}/api/v4/public/orderbook/BTC_USDT?limit=1"
        statuses = []
        for url in [kline] * 4 + [book] * 3:
            async with http.get(url) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    assert await resp.json() == {
                        "success": False,
                        "message": "Too many requests.",
                        "params": [],
                    }
        assert statuses == [200, 200, 200, 429, 200, 200, 429]
        assert venue.limiter.rejected == {"kline": 1, "orderbook": 1}
        assert state.stats.rate_limited == 2
        ex = ccxt_async.whitebit(client_config(wb.base))
        try:
            await ex.load_markets()
            with pytest.raises(ccxt_async.DDoSProtection):
                await ex.fetch_ohlcv("BTC/USDT", "1m", limit=1)
        finally:
            await ex.close()


async def test_binance_routes_still_answer_beside_whitebit(
    http: aiohttp.ClientSession, wb: Served
) -> None:
    async with http.get(f"{wb.base}/api/v3/time") as resp:
        assert await resp.json() == {"serverTime": NOW_MS}


async def test_control_endpoints_set_limits_and_report_rejections(
    http: aiohttp.ClientSession,
) -> None:
    async with serve(SimState.create(frozen())) as wb:
        async with http.post(f"{wb.base}/_sim/whitebit/limits", json={"kline": 1}) as resp:
            assert (await resp.json())["limits"]["kline"] == 1
        async with http.post(f"{wb.base}/_sim/whitebit/limits", json={"nope": 1}) as resp:
            assert resp.status == 400
        kline = f"{wb.base}/api/v1/public/kline?market=BTC_USDT&interval=1m&limit=1"
        for _ in range(2):
            async with http.get(kline):
                pass
        async with http.get(f"{wb.base}/_sim/whitebit/stats") as resp:
            stats = await resp.json()
        assert stats["rejected"] == {"kline": 1} and stats["limits"]["orderbook"] == 600
        async with http.post(f"{wb.base}/_sim/whitebit/faults", json={"skip_delta_next": 2}):
            assert wb.venue.faults.skip_delta_next == 2
        async with http.post(f"{wb.base}/_sim/whitebit/reset"):
            assert wb.venue.limiter.rejected == {} and wb.venue.faults.skip_delta_next == 0
