"""REST over loopback: Binance paging semantics, shapes, errors, weights, exchangeInfo, depth."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
from sim_support import MINUTE, NOW_MS, START_MS, frozen

from exchange_sim import SimServer


async def get(http: aiohttp.ClientSession, sim: SimServer, path: str, **params: object) -> Any:
    query = {k: str(v) for k, v in params.items()}
    async with http.get(f"{sim.rest_url}{path}", params=query) as resp:
        assert resp.status == 200, await resp.text()
        return orjson.loads(await resp.read())


async def klines(http: aiohttp.ClientSession, sim: SimServer, **params: object) -> list[list[Any]]:
    return await get(http, sim, "/api/v3/klines", symbol="BTCUSDT", interval="1m", **params)  # type: ignore[no-any-return]


async def test_only_start_time_returns_the_oldest_klines_from_it(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    rows = await klines(http, sim, startTime=START_MS + 5 * MINUTE, limit=1000)
    assert len(rows) == 1000
    assert [r[0] for r in rows] == [START_MS + (5 + i) * MINUTE for i in range(1000)]
    assert rows == sim.source.klines("BTCUSDT", START_MS + 5 * MINUTE, START_MS + 1004 * MINUTE)


async def test_a_start_time_inside_a_minute_begins_at_the_next_open(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    rows = await klines(http, sim, startTime=START_MS + 1, limit=2)
    assert [r[0] for r in rows] == [START_MS + MINUTE, START_MS + 2 * MINUTE]


async def test_only_end_time_returns_the_newest_klines_up_to_it(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    end = START_MS + 3 * 86_400_000 + 30_000  # mid-minute
    rows = await klines(http, sim, endTime=end, limit=10)
    assert [r[0] for r in rows] == [end - 30_000 - i * MINUTE for i in range(9, -1, -1)]


async def test_both_times_page_from_the_start_and_stop_at_the_end(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    rows = await klines(http, sim, startTime=START_MS, endTime=START_MS + 9 * MINUTE)
    assert len(rows) == 10 and rows[-1][0] == START_MS + 9 * MINUTE


async def test_neither_time_returns_the_newest_including_the_open_minute(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    rows = await klines(http, sim)
    assert len(rows) == 500
    current = NOW_MS - NOW_MS % MINUTE
    assert rows[-1][0] == current and rows[-1][6] == current + 59_999 > NOW_MS
    assert rows == sim.source.klines("BTCUSDT", current - 499 * MINUTE, current)


async def test_the_open_minute_is_a_partial_of_the_final_one(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    live = (await klines(http, sim, limit=1))[0]
    sim.clock.set(NOW_MS - NOW_MS % MINUTE + MINUTE + 1)
    try:
        final = (await klines(http, sim, startTime=live[0], limit=1))[0]
    finally:
        sim.clock.set(NOW_MS)
    assert live[1] == final[1] and Decimal(live[5]) < Decimal(final[5])
    assert Decimal(final[3]) <= Decimal(live[3]) <= Decimal(live[2]) <= Decimal(final[2])


async def test_requests_past_the_data_return_an_empty_list(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    assert await klines(http, sim, endTime=START_MS - 1) == []
    assert await klines(http, sim, startTime=NOW_MS + MINUTE) == []


async def test_klines_are_twelve_binance_fields_with_exact_decimal_strings(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    for row in await klines(http, sim, startTime=START_MS, limit=50):
        assert len(row) == 12
        assert [type(v) for v in row] == [int, *[str] * 5, int, str, int, str, str, str]
        assert row[6] == row[0] + 59_999
        for text in (row[1], row[2], row[3], row[4], row[5], row[7], row[9], row[10]):
            assert len(text.split(".")[1]) == 8
        assert row[1].endswith("000000")  # BTCUSDT ticks are 0.01
        low, high = Decimal(row[3]), Decimal(row[2])
        assert low <= Decimal(row[1]) <= high and low <= Decimal(row[4]) <= high
        assert row[11] == "0"


async def test_larger_intervals_follow_the_aggregation_rule(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    hours = await get(http, sim, "/api/v3/klines", symbol="ETHUSDT", interval="1h",
                      startTime=START_MS, limit=3)  # fmt: skip
    minutes = sim.source.klines("ETHUSDT", START_MS, START_MS + 60 * MINUTE - 1)
    assert hours[0][0] == START_MS and hours[0][6] == START_MS + 3_600_000 - 1
    traded = [m for m in minutes if int(m[8]) > 0]
    assert hours[0][1] == traded[0][1] and hours[0][4] == traded[-1][4]
    assert Decimal(hours[0][2]) == max(Decimal(m[2]) for m in traded)
    assert Decimal(hours[0][5]) == sum(Decimal(m[5]) for m in minutes)
    months = await get(http, sim, "/api/v3/klines", symbol="ETHUSDT", interval="1M")
    assert [m[0] for m in months] == [1704067200000, 1706745600000, 1709251200000]


async def test_bad_parameters_get_binance_errors(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{sim.rest_url}/api/v3/klines?symbol=NOPE&interval=1m") as resp:
        assert resp.status == 400
        assert await resp.json() == {"code": -1121, "msg": "Invalid symbol."}
        assert "X-MBX-USED-WEIGHT-1M" in resp.headers


async def test_exchange_info_publishes_the_weight_limit_and_trading_symbols(
    http: aiohttp.ClientSession,
) -> None:
    async with SimServer(frozen(weight_limit=1234)) as sim:
        info = await get(http, sim, "/api/v3/exchangeInfo")
        weight = [r for r in info["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT"]
        assert weight == [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": 1234}
        ]  # fmt: skip
        assert {s["symbol"]: s["status"] for s in info["symbols"]} == {
            "BTCUSDT": "TRADING",
            "ETHUSDT": "TRADING",
        }
        assert info["serverTime"] == NOW_MS
        assert (await get(http, sim, "/api/v3/time")) == {"serverTime": NOW_MS}
        assert (await get(http, sim, "/api/v3/ping")) == {}


async def test_depth_has_sorted_levels_and_weight_by_limit(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    for limit, weight in ((5, 5), (100, 5), (500, 25), (1000, 50), (5000, 250)):
        sim.reset_limits()
        params = {"symbol": "BTCUSDT", "limit": str(limit)}
        async with http.get(f"{sim.rest_url}/api/v3/depth", params=params) as resp:
            book = orjson.loads(await resp.read())
            assert resp.headers["X-MBX-USED-WEIGHT-1M"] == str(weight)
    assert set(book) == {"lastUpdateId", "bids", "asks"}
    bids = [Decimal(p) for p, _ in book["bids"]]
    asks = [Decimal(p) for p, _ in book["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert bids[0] < asks[0]


async def wait_clear_of_minute_boundary() -> None:
    """The weight window is the wall-clock minute; keep a test inside one."""
    if time.time() % 60 > 57:
        await asyncio.sleep(60 - time.time() % 60 + 0.05)


async def test_every_response_reports_used_weight_then_429_then_escalating_418(
    http: aiohttp.ClientSession,
) -> None:
    async with SimServer(frozen(weight_limit=10, ban_base_seconds=5, tolerated_in_window=0)) as sim:
        await wait_clear_of_minute_boundary()
        url = f"{sim.rest_url}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1"
        for used in (2, 4, 6, 8, 10):
            async with http.get(url) as resp:
                assert resp.status == 200
                assert resp.headers["X-MBX-USED-WEIGHT-1M"] == str(used)
                assert resp.headers["X-MBX-USED-WEIGHT"] == str(used)
        async with http.get(url) as resp:
            assert resp.status == 429
            assert (await resp.json())["code"] == -1003
            assert 1 <= int(resp.headers["Retry-After"]) <= 60
        bans = []
        for _ in range(2):
            async with http.get(url) as resp:
                assert resp.status == 418
                bans.append(int(resp.headers["Retry-After"]))
        assert bans == [5, 10]
        assert (sim.stats.rate_limited, sim.stats.banned) == (1, 2)
        assert sim.stats.requests["/api/v3/klines"] == 8


async def test_the_same_seed_serves_the_same_klines(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen()) as a, SimServer(frozen()) as b, SimServer(frozen(seed=8)) as c:
        pages = [await klines(http, s, startTime=START_MS + 86_400_000) for s in (a, b, c)]
    assert pages[0] == pages[1] != pages[2]
