"""Bybit v5 REST of the simulator, over plain HTTP: envelope, rows, errors, the IP limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sim_support import MINUTE, NOW_MS, START_MS, frozen

from exchange_sim import SimServer
from exchange_sim.bybit.payloads import plain

KLINE = "/v5/market/kline"


async def get(http: aiohttp.ClientSession, sim: SimServer, path: str, **params: Any) -> Any:
    async with http.get(sim.rest_url + path, params=params) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        return await resp.json()


def ok(body: Any) -> Any:
    assert set(body) == {"retCode", "retMsg", "result", "retExtInfo", "time"}
    assert (body["retCode"], body["retMsg"], body["retExtInfo"]) == (0, "OK", {})
    assert body["time"] == NOW_MS
    return body["result"]


def same_candles(bybit_rows: list[list[str]], binance_rows: list[list[int | str]]) -> None:
    """Bybit rows (newest first, 7 strings) against the simulator's own series."""
    assert len(bybit_rows) == len(binance_rows)
    for ours, ref in zip(reversed(bybit_rows), binance_rows, strict=True):
        assert len(ours) == 7 and all(isinstance(x, str) for x in ours)
        assert int(ours[0]) == ref[0]
        expected = [ref[1], ref[2], ref[3], ref[4], ref[5], ref[7]]
        assert [Decimal(x) for x in ours[1:]] == [Decimal(str(x)) for x in expected]


async def test_server_time_is_the_sim_clock_as_strings(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    result = ok(await get(http, sim, "/v5/market/time"))
    assert result == {"timeSecond": str(NOW_MS // 1000), "timeNano": str(NOW_MS * 1_000_000)}


async def test_kline_rows_are_the_series_newest_first(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    start = NOW_MS - NOW_MS % MINUTE - 300 * MINUTE
    for category in ("spot", "linear"):
        result = ok(
            await get(
                http, sim, KLINE, category=category, symbol="BTCUSDT", interval="1", start=start,
                limit=120,
            )
        )  # fmt: skip
        assert (result["category"], result["symbol"]) == (category, "BTCUSDT")
        rows = result["list"]
        assert [int(r[0]) for r in rows] == [start + i * MINUTE for i in range(119, -1, -1)]
        same_candles(rows, sim.source.klines("BTCUSDT", start, start + 119 * MINUTE))


async def test_kline_defaults_to_200_newest_ending_with_the_open_candle(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    rows = ok(await get(http, sim, KLINE, category="spot", symbol="ETHUSDT", interval="1"))["list"]
    open_minute = NOW_MS - NOW_MS % MINUTE
    assert len(rows) == 200 and int(rows[0][0]) == open_minute
    same_candles(rows, sim.source.klines("ETHUSDT", open_minute - 199 * MINUTE, NOW_MS))


async def test_kline_start_inside_a_candle_returns_that_candle(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    start = START_MS + 10 * MINUTE
    rows = ok(
        await get(
            http, sim, KLINE, symbol="BTCUSDT", interval="1", start=start + 30_000,
            end=start + 2 * MINUTE + 5_000,
        )
    )["list"]  # fmt: skip
    assert [int(r[0]) for r in rows] == [start + 2 * MINUTE, start + MINUTE, start]


async def test_kline_other_intervals_and_limit_1000(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    rows = ok(await get(http, sim, KLINE, symbol="BTCUSDT", interval="60", start=START_MS))
    hours = rows["list"]
    assert len(hours) == 200 and int(hours[-1][0]) == START_MS
    same_candles(hours, sim.source.klines("BTCUSDT", START_MS, START_MS + 199 * 60 * MINUTE, "1h"))
    page = ok(await get(http, sim, KLINE, symbol="BTCUSDT", interval="1", limit=1000))["list"]
    assert len(page) == 1000
    day = ok(await get(http, sim, KLINE, symbol="BTCUSDT", interval="D", limit=2))["list"]
    assert int(day[1][0]) == NOW_MS - NOW_MS % 86_400_000 - 86_400_000


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"symbol": "NOPEUSDT", "interval": "1"}, "Not supported symbols"),
        ({"symbol": "BTCUSDT", "interval": "1m"}, "params error: intervalTime is invalid"),
        ({"symbol": "BTCUSDT", "interval": "1", "category": "margin"}, "Illegal category"),
        ({"symbol": "BTCUSDT", "interval": "1", "limit": "1001"}, "params error: limit is invalid"),
        ({"symbol": "BTCUSDT", "interval": "1", "limit": "0"}, "params error: limit is invalid"),
        ({"symbol": "BTCUSDT", "interval": "1", "start": "x"}, "params error: start is invalid"),
        ({"interval": "1"}, "params error: symbol is required"),
        ({"symbol": "BTCUSDT"}, "params error: interval is required"),
    ],
)
async def test_kline_parameter_errors_are_http_200_with_retcode_10001(
    sim: SimServer, http: aiohttp.ClientSession, params: dict[str, str], message: str
) -> None:
    body = await get(http, sim, KLINE, **params)
    assert body == {
        "retCode": 10001,
        "retMsg": message,
        "result": {},
        "retExtInfo": {},
        "time": NOW_MS,
    }


async def test_orderbook_fields_and_sorted_sides(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    book = ok(
        await get(http, sim, "/v5/market/orderbook", category="linear", symbol="BTCUSDT", limit=50)
    )
    assert set(book) == {"s", "b", "a", "ts", "u", "seq", "cts"}
    assert book["s"] == "BTCUSDT" and book["ts"] == NOW_MS
    assert all(isinstance(book[k], int) for k in ("ts", "u", "seq", "cts"))
    bids = [Decimal(p) for p, _ in book["b"]]
    asks = [Decimal(p) for p, _ in book["a"]]
    assert len(bids) == len(asks) == 50
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    spot = ok(await get(http, sim, "/v5/market/orderbook", category="spot", symbol="BTCUSDT"))
    assert len(spot["b"]) == len(spot["a"]) == 1  # spot's default depth
    too_deep = await get(
        http, sim, "/v5/market/orderbook", category="spot", symbol="BTCUSDT", limit=201
    )
    assert too_deep["retCode"] == 10001


async def test_instruments_list_both_categories_and_nothing_else(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    path = "/v5/market/instruments-info"
    spot = ok(await get(http, sim, path, category="spot"))
    assert [i["symbol"] for i in spot["list"]] == ["BTCUSDT", "ETHUSDT"]
    assert spot["list"][0]["priceFilter"] == {"tickSize": "0.01"}
    linear = ok(await get(http, sim, path, category="linear", symbol="ETHUSDT"))
    (eth,) = linear["list"]
    assert (eth["contractType"], eth["settleCoin"], eth["launchTime"]) == (
        "LinearPerpetual",
        "USDT",
        str(START_MS),
    )
    assert linear["nextPageCursor"] == ""
    for category in ("inverse", "option"):
        assert ok(await get(http, sim, path, category=category))["list"] == []
    assert ok(await get(http, sim, path, category="linear", status="PreLaunch"))["list"] == []


def test_amounts_print_exactly_without_trailing_zeros() -> None:
    assert plain(4_200_010_000_000) == "42000.1"
    assert plain(200_000_000) == "2"
    assert plain(1) == "0.00000001"
    assert plain(0) == "0"


@pytest_asyncio.fixture(loop_scope="session")
async def limited() -> AsyncIterator[SimServer]:
    async with SimServer(frozen(bybit_ip_limit=5, bybit_ban_seconds=600.0)) as server:
        yield server


async def test_over_the_ip_limit_is_403_and_a_ban_counted_in_stats(
    limited: SimServer, http: aiohttp.ClientSession
) -> None:
    url = limited.rest_url + "/v5/market/time"
    statuses = []
    for _ in range(8):
        async with http.get(url) as resp:
            statuses.append(resp.status)
            if resp.status == 403:
                assert await resp.text() == "access too frequent"
    assert statuses == [200] * 5 + [403] * 3
    assert limited.stats.bybit_rate_limited == 3
    async with http.get(limited.rest_url + "/api/v3/time") as resp:
        assert resp.status == 200  # Binance's limit is separate
    limited.reset_limits()
    async with http.get(url) as resp:
        assert resp.status == 200
