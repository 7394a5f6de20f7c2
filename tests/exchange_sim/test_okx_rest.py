"""OKX v5 REST of the simulator, over plain HTTP: envelope, candle paging, books, errors,
and the per-IP limits per endpoint."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from sim_support import MINUTE, NOW_MS, START_MS, frozen, with_venue

from exchange_sim import SimConfig, build_app
from exchange_sim.okx import EndpointLimiter, OkxSettings, OkxVenue
from exchange_sim.okx.book import checksum
from exchange_sim.okx.instruments import lookup
from exchange_sim.okx.payloads import amount, plain
from exchange_sim.state import SimState

CANDLES = "/api/v5/market/candles"
HISTORY = "/api/v5/market/history-candles"
BOOKS = "/api/v5/market/books"
INSTRUMENTS = "/api/v5/public/instruments"
OPEN_MINUTE = NOW_MS - NOW_MS % MINUTE


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
        yield Okx(f"http://127.0.0.1:{runner.addresses[0][1]}", state, venue)
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def okx() -> AsyncIterator[Okx]:
    async with serve(frozen()) as server:
        yield server


async def call(http: aiohttp.ClientSession, okx: Okx, path: str, **params: Any) -> Any:
    async with http.get(okx.url + path, params=params) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


async def data(http: aiohttp.ClientSession, okx: Okx, path: str, **params: Any) -> Any:
    status, body = await call(http, okx, path, **params)
    assert status == 200
    assert list(body) == ["code", "msg", "data"] and body["code"] == "0" and body["msg"] == ""
    return body["data"]


def same_candles(okx: Okx, rows: list[list[str]], inst_id: str, interval: str = "1m") -> None:
    """OKX rows (newest first) against the simulator's own series, field by field."""
    inst = lookup(inst_id, okx.state.market.stores)
    assert inst is not None and rows
    oldest, newest = int(rows[-1][0]), int(rows[0][0])
    ref = okx.state.market.klines(inst.symbol, oldest, newest, interval)
    assert len(ref) == len(rows)
    for ours, theirs in zip(reversed(rows), ref, strict=True):
        assert len(ours) == 9 and all(isinstance(x, str) for x in ours)
        assert int(ours[0]) == theirs[0]
        o, h, lo, c, base, quote = (Decimal(str(theirs[i])) for i in (1, 2, 3, 4, 5, 7))
        assert [Decimal(x) for x in ours[1:5]] == [o, h, lo, c]
        contracts = base / Decimal(inst.ct_val) if inst.swap else base
        assert Decimal(ours[5]) == contracts
        assert Decimal(ours[6]) == (base if inst.swap else quote)
        assert Decimal(ours[7]) == quote
        assert ours[8] == ("0" if theirs[6] >= NOW_MS else "1")  # type: ignore[operator]


async def test_server_time_is_the_sim_clock_as_a_string(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    assert await data(http, okx, "/api/v5/public/time") == [{"ts": str(NOW_MS)}]


async def test_instruments_spot_and_swap_and_nothing_else(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    spot = await data(http, okx, INSTRUMENTS, instType="SPOT")
    assert [(i["instId"], i["baseCcy"], i["quoteCcy"]) for i in spot] == [
        ("BTC-USDT", "BTC", "USDT"),
        ("ETH-USDT", "ETH", "USDT"),
    ]
    assert spot[0]["tickSz"] == "0.01" and spot[0]["ctVal"] == "" and spot[0]["state"] == "live"
    swap = await data(http, okx, INSTRUMENTS, instType="SWAP")
    assert [(i["instId"], i["ctVal"], i["ctValCcy"], i["settleCcy"], i["uly"]) for i in swap] == [
        ("BTC-USDT-SWAP", "0.01", "BTC", "USDT", "BTC-USDT"),
        ("ETH-USDT-SWAP", "0.1", "ETH", "USDT", "ETH-USDT"),
    ]
    assert swap[0]["ctType"] == "linear" and swap[0]["listTime"] == str(START_MS)
    one = await data(http, okx, INSTRUMENTS, instType="SWAP", instId="ETH-USDT-SWAP")
    assert [i["instId"] for i in one] == ["ETH-USDT-SWAP"]
    for other in ("FUTURES", "OPTION", "MARGIN"):
        assert await data(http, okx, INSTRUMENTS, instType=other, uly="BTC-USD") == []


async def test_candles_default_to_the_newest_100_with_the_open_bar_first(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    rows = await data(http, okx, CANDLES, instId="BTC-USDT")
    assert len(rows) == 100
    assert [int(r[0]) for r in rows] == [OPEN_MINUTE - i * MINUTE for i in range(100)]
    assert rows[0][8] == "0" and {r[8] for r in rows[1:]} == {"1"}
    same_candles(okx, rows, "BTC-USDT")


async def test_after_is_older_than_and_before_is_newer_than_both_exclusive(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    t = OPEN_MINUTE - 500 * MINUTE
    older = await data(http, okx, CANDLES, instId="BTC-USDT", after=t, limit=5)
    assert [int(r[0]) for r in older] == [t - i * MINUTE for i in range(1, 6)]
    newer = await data(http, okx, CANDLES, instId="BTC-USDT", before=t, limit=3)
    assert [int(r[0]) for r in newer] == [OPEN_MINUTE - i * MINUTE for i in range(3)]
    between = await data(http, okx, CANDLES, instId="BTC-USDT", before=t - 1, after=t + 4 * MINUTE)
    assert [int(r[0]) for r in between] == [t + i * MINUTE for i in range(3, -1, -1)]
    same_candles(okx, between, "BTC-USDT")


async def test_candles_reach_1440_bars_and_history_candles_the_rest(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    oldest_recent = OPEN_MINUTE - 1439 * MINUTE
    edge = await data(http, okx, CANDLES, instId="BTC-USDT", after=oldest_recent + MINUTE)
    assert [int(r[0]) for r in edge] == [oldest_recent]
    assert await data(http, okx, CANDLES, instId="BTC-USDT", after=oldest_recent) == []
    since = START_MS + 1000 * MINUTE
    old = await data(
        http, okx, HISTORY, instId="BTC-USDT", before=since - 1, after=since + 300 * MINUTE,
        limit=300,
    )  # fmt: skip
    assert [int(r[0]) for r in old] == [since + i * MINUTE for i in range(299, -1, -1)]
    same_candles(okx, old, "BTC-USDT")
    first = await data(http, okx, HISTORY, instId="ETH-USDT", after=START_MS + 2 * MINUTE)
    assert [int(r[0]) for r in first] == [START_MS + MINUTE, START_MS]
    assert await data(http, okx, HISTORY, instId="ETH-USDT", after=START_MS) == []
    newest = await data(http, okx, HISTORY, instId="BTC-USDT", limit=2)
    assert [int(r[0]) for r in newest] == [OPEN_MINUTE, OPEN_MINUTE - MINUTE]


async def test_swap_rows_count_contracts_then_base_then_quote(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    for inst_id in ("BTC-USDT-SWAP", "ETH-USDT-SWAP"):
        rows = await data(http, okx, CANDLES, instId=inst_id, limit=300)
        assert len(rows) == 300
        same_candles(okx, rows, inst_id)
    spot = await data(http, okx, CANDLES, instId="BTC-USDT", limit=3)
    swap = await data(http, okx, CANDLES, instId="BTC-USDT-SWAP", limit=3)
    for s, w in zip(spot, swap, strict=True):
        assert s[:5] == w[:5] and s[5] == w[6] and s[7] == w[7]
        assert Decimal(w[5]) == Decimal(s[5]) * 100  # ctVal 0.01


async def test_other_bars_are_the_simulators_utc_buckets(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    hours = await data(
        http, okx, HISTORY, instId="BTC-USDT", bar="1H", after=START_MS + 10 * 3_600_000
    )
    assert len(hours) == 10 and int(hours[-1][0]) == START_MS
    same_candles(okx, hours, "BTC-USDT", "1h")
    days = await data(http, okx, CANDLES, instId="ETH-USDT-SWAP", bar="1Dutc", limit=3)
    assert int(days[0][0]) == NOW_MS - NOW_MS % 86_400_000 and days[0][8] == "0"
    same_candles(okx, days, "ETH-USDT-SWAP", "1d")


@pytest.mark.parametrize(
    ("path", "params", "status", "code", "msg"),
    [
        (CANDLES, {}, 400, "50014", "Parameter instId cannot be empty"),
        (CANDLES, {"instId": "NOPE-USDT"}, 200, "51001", "Instrument ID does not exist"),
        (CANDLES, {"instId": "BTC-USDT", "bar": "1h"}, 400, "51000", "Parameter bar error"),
        (CANDLES, {"instId": "BTC-USDT", "bar": "1D"}, 400, "51000", "Parameter bar error"),
        (CANDLES, {"instId": "BTC-USDT", "limit": "301"}, 400, "51000", "Parameter limit error"),
        (HISTORY, {"instId": "BTC-USDT", "limit": "0"}, 400, "51000", "Parameter limit error"),
        (HISTORY, {"instId": "BTC-USDT", "after": "x"}, 400, "51000", "Parameter after error"),
        (BOOKS, {"instId": "BTC-USDT", "sz": "401"}, 400, "51000", "Parameter sz error"),
        (BOOKS, {"instId": "BTCUSDT"}, 200, "51001", "Instrument ID does not exist"),
        (INSTRUMENTS, {}, 400, "50014", "Parameter instType cannot be empty"),
        (INSTRUMENTS, {"instType": "spot"}, 400, "51000", "Parameter instType error"),
    ],
)
async def test_errors_carry_okx_codes_and_http_statuses(
    okx: Okx,
    http: aiohttp.ClientSession,
    path: str,
    params: dict[str, str],
    status: int,
    code: str,
    msg: str,
) -> None:
    assert await call(http, okx, path, **params) == (status, {"code": code, "msg": msg, "data": []})


async def test_books_levels_are_four_strings_sorted_and_swaps_in_contracts(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    (one,) = await data(http, okx, BOOKS, instId="BTC-USDT")
    assert list(one) == ["asks", "bids", "ts"] and one["ts"] == str(NOW_MS)
    assert len(one["asks"]) == len(one["bids"]) == 1  # OKX's default sz
    (spot,) = await data(http, okx, BOOKS, instId="BTC-USDT", sz=400)
    (swap,) = await data(http, okx, BOOKS, instId="BTC-USDT-SWAP", sz=400)
    for side in ("asks", "bids"):
        levels = spot[side]
        assert len(levels) == 400
        assert all(len(lv) == 4 and lv[2] == "0" and int(lv[3]) >= 1 for lv in levels)
        prices = [Decimal(lv[0]) for lv in levels]
        assert prices == sorted(prices, reverse=side == "bids")
        assert [lv[0] for lv in swap[side]] == [lv[0] for lv in levels]
        assert [Decimal(w[1]) for w in swap[side]] == [Decimal(s[1]) * 100 for s in levels]
    assert Decimal(spot["bids"][0][0]) < Decimal(spot["asks"][0][0])


def test_amounts_print_exactly_and_swaps_divide_by_ct_val() -> None:
    btc_swap = lookup("BTC-USDT-SWAP", ["BTCUSDT"])
    doge_swap = lookup("DOGE-USDT-SWAP", ["DOGEUSDT"])
    assert btc_swap is not None and doge_swap is not None
    assert plain(4_200_010_000_000) == "42000.1" and plain(0) == "0" and plain(1) == "0.00000001"
    assert amount(btc_swap, 150_000_000) == "150"
    assert amount(btc_swap, 1) == "0.000001"
    assert doge_swap.ct_val == "1000" and amount(doge_swap, 123_400_000_000) == "1.234"


def test_checksum_matches_the_docs_check_strings() -> None:
    bids, asks = [["3366.1", "7"], ["3366", "6"]], [["3366.8", "9"], ["3368", "8"]]
    assert checksum(bids, asks) == -1881014294
    assert checksum([["3366.1", "7"]], [["3366.8", "9"], ["3368", "8"], ["3372", "8"]]) == (
        831078360
    )


@pytest_asyncio.fixture(loop_scope="session")
async def limited() -> AsyncIterator[Okx]:
    async with serve(frozen(), OkxSettings().limited(time=3, instruments=2)) as server:
        yield server


async def test_over_an_endpoint_limit_is_429_with_50011_counted(
    limited: Okx, http: aiohttp.ClientSession
) -> None:
    statuses = []
    for _ in range(5):
        status, body = await call(http, limited, "/api/v5/public/time")
        statuses.append(status)
        if status == 429:
            assert body == {"msg": "Too Many Requests", "code": "50011"}
    assert statuses == [200] * 3 + [429] * 2
    assert limited.venue.limiter.rejected["/api/v5/public/time"] == 2
    assert limited.state.stats.rate_limited == 2
    assert (await call(http, limited, CANDLES, instId="BTC-USDT", limit=1))[0] == 200
    # instruments is keyed by IP and instType
    kinds = ["SPOT", "SPOT", "SWAP", "SWAP", "SPOT"]
    got = [(await call(http, limited, INSTRUMENTS, instType=k))[0] for k in kinds]
    assert got == [200, 200, 200, 200, 429]
    async with http.get(limited.url + "/api/v3/time") as resp:
        assert resp.status == 200  # Binance's limits are its own
    async with http.get(limited.url + "/_sim/okx/stats") as resp:
        assert (await resp.json())["rejected"] == {
            "/api/v5/public/time": 2,
            INSTRUMENTS: 1,
        }
    limited.venue.reset()
    assert (await call(http, limited, "/api/v5/public/time"))[0] == 200
    assert limited.venue.limiter.rejections == 0


def test_the_window_frees_up_after_two_seconds() -> None:
    clock = [100.0]
    limiter = EndpointLimiter({"/p": 2}, 2.0, clock=lambda: clock[0])
    assert [limiter.admit("ip", "/p") for _ in range(3)] == [True, True, False]
    clock[0] += 1.0
    assert limiter.admit("ip", "/p") is False
    assert limiter.admit("other-ip", "/p") is True
    clock[0] += 1.01
    assert limiter.admit("ip", "/p") is True
    assert limiter.admit("ip", "/unlimited") is True
    assert limiter.rejected == {"/p": 2}
