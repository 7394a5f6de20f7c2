"""USDⓈ-M REST over loopback: /fapi/v1 shapes, exact rows, weights, 429 then 418, spot untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from sim_support import MINUTE, NOW_MS, START_MS, frozen, with_venue

from exchange_sim import SimConfig, build_app
from exchange_sim.futures import FuturesVenue
from exchange_sim.futures.book import step_of
from exchange_sim.state import SimState


@dataclass
class Served:
    url: str
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
        yield Served(f"http://127.0.0.1:{runner.addresses[0][1]}", state, venue)
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def fut() -> AsyncIterator[Served]:
    async with serving(frozen(), weight_limit=1_000_000) as served:
        served.venue.limiter.clock = lambda: 1_000_000.0  # one weight window for the module
        yield served


async def call(
    http: aiohttp.ClientSession, fut: Served, path: str, **params: object
) -> tuple[int, Any, Any]:
    query = {k: str(v) for k, v in params.items()}
    async with http.get(f"{fut.url}{path}", params=query) as resp:
        return resp.status, orjson.loads(await resp.read()), resp.headers


async def ok(http: aiohttp.ClientSession, fut: Served, path: str, **params: object) -> Any:
    status, body, _ = await call(http, fut, path, **params)
    assert status == 200, body
    return body


async def test_ping_and_time(fut: Served, http: aiohttp.ClientSession) -> None:
    assert await ok(http, fut, "/fapi/v1/ping") == {}
    assert await ok(http, fut, "/fapi/v1/time") == {"serverTime": NOW_MS}


async def test_klines_are_the_series_rows_exactly(fut: Served, http: aiohttp.ClientSession) -> None:
    rows = await ok(http, fut, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m")
    assert len(rows) == 500  # the default limit
    newest = NOW_MS - NOW_MS % MINUTE
    assert rows[-1][0] == newest
    assert rows == fut.state.market.klines("BTCUSDT", newest - 499 * MINUTE, newest)
    row = rows[0]
    assert len(row) == 12 and isinstance(row[8], int) and row[11] == "0"
    assert all(isinstance(row[i], str) and Decimal(row[i]) >= 0 for i in (1, 2, 3, 4, 5, 7, 9, 10))


async def test_klines_page_up_to_1500_rows(fut: Served, http: aiohttp.ClientSession) -> None:
    start = START_MS + 7 * MINUTE
    rows = await ok(
        http, fut, "/fapi/v1/klines", symbol="ETHUSDT", interval="1m", startTime=start, limit=1500
    )
    assert [r[0] for r in rows] == [start + i * MINUTE for i in range(1500)]
    assert rows == fut.state.market.klines("ETHUSDT", start, start + 1499 * MINUTE)
    status, body, _ = await call(
        http, fut, "/fapi/v1/klines", symbol="ETHUSDT", interval="1m", limit=1501
    )
    assert status == 400 and body["code"] == -1130 and "limit" in body["msg"]


async def test_start_time_zero_finds_the_first_candle(
    fut: Served, http: aiohttp.ClientSession
) -> None:
    rows = await ok(
        http, fut, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", startTime=0, limit=1
    )
    assert [r[0] for r in rows] == [START_MS]


async def test_continuous_klines_serve_the_same_rows(
    fut: Served, http: aiohttp.ClientSession
) -> None:
    params: dict[str, object] = {"interval": "5m", "startTime": START_MS, "limit": 20}
    plain = await ok(http, fut, "/fapi/v1/klines", symbol="BTCUSDT", **params)
    cont = await ok(
        http, fut, "/fapi/v1/continuousKlines", pair="BTCUSDT", contractType="PERPETUAL", **params
    )
    assert cont == plain and len(plain) == 20
    status, body, _ = await call(
        http, fut, "/fapi/v1/continuousKlines", pair="BTCUSDT", contractType="NEXT_QUARTER",
        interval="1m",
    )  # fmt: skip
    assert status == 400 and body["code"] == -1130


@pytest.mark.parametrize(
    ("path", "params", "weight"),
    [
        ("/fapi/v1/klines", {"limit": 99}, 1),
        ("/fapi/v1/klines", {"limit": 100}, 2),
        ("/fapi/v1/klines", {}, 5),
        ("/fapi/v1/klines", {"limit": 1000}, 5),
        ("/fapi/v1/klines", {"limit": 1001}, 10),
        ("/fapi/v1/depth", {"limit": 5}, 2),
        ("/fapi/v1/depth", {"limit": 50}, 2),
        ("/fapi/v1/depth", {"limit": 100}, 5),
        ("/fapi/v1/depth", {}, 10),
        ("/fapi/v1/depth", {"limit": 1000}, 20),
        ("/fapi/v1/exchangeInfo", {}, 1),
        ("/fapi/v1/time", {}, 1),
    ],
)
async def test_each_request_adds_its_documented_weight(
    fut: Served, http: aiohttp.ClientSession, path: str, params: dict[str, object], weight: int
) -> None:
    market = path.endswith(("klines", "depth"))
    query: dict[str, object] = {"symbol": "BTCUSDT", "interval": "1m"} if market else {}
    before = fut.venue.limiter.used("127.0.0.1")
    status, _, headers = await call(http, fut, path, **query, **params)
    assert status == 200
    assert int(headers["X-MBX-USED-WEIGHT-1M"]) == before + weight


async def test_depth_snapshot_shape_and_ids(fut: Served, http: aiohttp.ClientSession) -> None:
    book = fut.venue.books.get("BTCUSDT")
    step = step_of(NOW_MS)
    for limit in (5, 10, 20, 50, 100, 500, 1000):
        body = await ok(http, fut, "/fapi/v1/depth", symbol="BTCUSDT", limit=limit)
        assert set(body) == {"lastUpdateId", "E", "T", "bids", "asks"}
        assert body["lastUpdateId"] == book.last_id(step)
        assert body["E"] == NOW_MS and body["T"] <= body["E"]
        assert 0 < len(body["bids"]) <= limit and 0 < len(body["asks"]) <= limit
        bids = [Decimal(p) for p, _ in body["bids"]]
        asks = [Decimal(p) for p, _ in body["asks"]]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert len(body["bids"]) > 800  # limit=1000 is the whole book, so diffs can be checked
    default = await ok(http, fut, "/fapi/v1/depth", symbol="BTCUSDT")
    assert len(default["bids"]) == 500
    status, err, _ = await call(http, fut, "/fapi/v1/depth", symbol="BTCUSDT", limit=7)
    assert status == 400 and err["code"] == -1130


async def test_errors_carry_code_and_msg(fut: Served, http: aiohttp.ClientSession) -> None:
    status, body, _ = await call(http, fut, "/fapi/v1/depth")
    assert status == 400 and body["code"] == -1102 and "symbol" in body["msg"]
    status, body, _ = await call(http, fut, "/fapi/v1/klines", symbol="NOPEUSDT", interval="1m")
    assert status == 400 and body == {"code": -1121, "msg": "Invalid symbol."}


async def test_exchange_info_lists_perpetuals(fut: Served, http: aiohttp.ClientSession) -> None:
    info = await ok(http, fut, "/fapi/v1/exchangeInfo")
    weight = [r for r in info["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT"]
    assert weight == [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
         "limit": 1_000_000}
    ]  # fmt: skip
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    assert btc["contractType"] == "PERPETUAL" and btc["status"] == "TRADING"
    assert (btc["baseAsset"], btc["quoteAsset"], btc["marginAsset"]) == ("BTC", "USDT", "USDT")
    assert btc["onboardDate"] == START_MS and btc["pricePrecision"] == 2
    tick = next(f for f in btc["filters"] if f["filterType"] == "PRICE_FILTER")["tickSize"]
    assert Decimal(tick) == Decimal("0.01")


async def test_the_default_budget_is_2400_and_separate_from_spot(
    http: aiohttp.ClientSession,
) -> None:
    async with serving(frozen(weight_limit=50)) as fut:
        info = await ok(http, fut, "/fapi/v1/exchangeInfo")
        assert info["rateLimits"][0]["limit"] == 2400
        for _ in range(10):
            await ok(http, fut, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=1000)
        assert fut.venue.limiter.used("127.0.0.1") >= 51  # over spot's 50, still answered
        assert fut.state.limiter.used("127.0.0.1") == 0
        async with http.get(f"{fut.url}/api/v3/time") as resp:
            assert resp.status == 200 and resp.headers["X-MBX-USED-WEIGHT-1M"] == "1"


async def test_over_the_budget_429_then_418_with_retry_after(
    http: aiohttp.ClientSession,
) -> None:
    async with serving(frozen(tolerated_in_window=2), weight_limit=10) as fut:
        fut.venue.limiter.clock = lambda: 60_000 * 60.0 + 15.0  # 45 s before the window ends
        path, query = "/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 500}
        for used in (5, 10):
            status, _, headers = await call(http, fut, path, **query)
            assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"] == str(used)
        status, body, headers = await call(http, fut, path, **query)
        assert status == 429 and headers["Retry-After"] == "45"
        assert body["code"] == -1003 and "current limit is 10 request weight" in body["msg"]
        for _ in range(2):  # the tolerated in-flight requests
            status, _, _ = await call(http, fut, path, **query)
            assert status == 429
        status, body, headers = await call(http, fut, path, **query)
        assert status == 418 and headers["Retry-After"] == "120"
        assert body["code"] == -1003 and "banned" in body["msg"]
        status, _, _ = await call(http, fut, "/api/v3/ping")
        assert status == 200  # spot's budget is another one
        assert fut.state.stats.statuses[429] == 3 and fut.state.stats.statuses[418] == 1
        fut.venue.reset()
        status, _, _ = await call(http, fut, "/fapi/v1/ping")
        assert status == 200


async def test_weight_limit_and_faults_over_http(http: aiohttp.ClientSession) -> None:
    async with serving(frozen()) as fut:
        async with http.post(f"{fut.url}/_sim/fapi/faults", json={"weight_limit": 3}) as resp:
            assert resp.status == 200 and (await resp.json())["weight_limit"] == 3
        async with http.post(f"{fut.url}/_sim/fapi/faults", json={"nope": 1}) as resp:
            assert resp.status == 400
        for expected in (200, 200, 200, 429):
            status, _, _ = await call(http, fut, "/fapi/v1/time")
            assert status == expected
        async with http.post(f"{fut.url}/_sim/fapi/reset") as resp:
            assert resp.status == 200
        assert fut.venue.limiter.limit == 2400
        status, _, _ = await call(http, fut, "/fapi/v1/time")
        assert status == 200


async def test_injected_server_errors_apply_to_futures_too(http: aiohttp.ClientSession) -> None:
    async with serving(frozen()) as fut:
        fut.state.faults.set(error_next=1)
        status, body, _ = await call(http, fut, "/fapi/v1/ping")
        assert status in (500, 502, 503) and set(body) == {"code", "msg"}
        status, _, _ = await call(http, fut, "/fapi/v1/ping")
        assert status == 200
