"""The OKX REST source against the simulator's OKX venue over real sockets: pages equal the
simulator's series on both candle endpoints, listing and server time, and pacing under the
per-endpoint limits (none refused; a refusal waited out)."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from collector_helpers import MINUTE_MS, days_ago

from data_collector import backfill, okx_rest
from data_collector.exchange import ExchangeRequestError
from data_collector.okx_rest import CANDLES, HISTORY, OkxBudgets, OkxRest
from exchange_sim.config import SimConfig
from exchange_sim.intervals import DAY_MS
from exchange_sim.okx import OkxSettings, OkxVenue
from exchange_sim.server import SimServer
from linkora_core.markets import Exchange, Kind, Market, Venue

SPOT = Venue(Exchange.OKX, Kind.SPOT)
SWAP = Venue(Exchange.OKX, Kind.SWAP)
LOW = 5  # requests per 2 s on every OKX endpoint the source calls


@contextlib.asynccontextmanager
async def okx_sim(settings: OkxSettings | None = None) -> AsyncIterator[SimServer]:
    sim = SimServer(SimConfig(symbols=("BTCUSDT",), start=days_ago(3), seed=5))
    if settings is not None:
        sim.venues = dataclasses.replace(sim.venues, okx=OkxVenue(sim.state, settings))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@contextlib.asynccontextmanager
async def source(
    sim: SimServer, venue: Venue, budgets: OkxBudgets | None = None
) -> AsyncIterator[OkxRest]:
    async with aiohttp.ClientSession() as session:
        rest = OkxRest(session, sim.rest_url, venue, budgets=budgets, max_attempts=3)
        await rest.prepare()
        yield rest


def low_settings(limit: int) -> OkxSettings:
    return OkxSettings().limited(
        time=limit, instruments=limit, candles=limit, history_candles=limit
    )


def low_budgets(limit: int) -> OkxBudgets:
    return OkxBudgets(limits=dict.fromkeys(okx_rest.DOCUMENTED_LIMITS, limit))


async def span(
    rest: OkxRest, symbol: str, start_ms: int, end_ms: int | None = None
) -> list[list[Any]]:
    rows: list[list[Any]] = []
    market = Market(rest.venue, symbol)
    async for page in backfill.fetch_span(rest, market, start_ms, end_ms=end_ms):
        rows += page.rows
    return rows


def assert_equal_to_series(sim: SimServer, rows: list[list[Any]]) -> None:
    """Rows (Binance layout) against the simulator's own 1m series, as decimals."""
    assert rows
    series = sim.source.klines("BTCUSDT", rows[0][0], rows[-1][0])
    assert [r[0] for r in rows] == [s[0] for s in series]
    for ours, theirs in zip(rows, series, strict=True):
        assert [Decimal(v) for v in ours[1:6]] == [Decimal(v) for v in theirs[1:6]]
        assert Decimal(ours[7]) == Decimal(theirs[7])
        assert ours[6] == theirs[6]
        assert ours[8:] == [None, None, None, "0"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.mark.parametrize(("venue", "symbol"), [(SPOT, "BTC-USDT"), (SWAP, "BTC-USDT-SWAP")])
async def test_pages_over_both_endpoints_equal_the_series(venue: Venue, symbol: str) -> None:
    async with okx_sim() as sim, source(sim, venue) as rest:
        start = (now_ms() // MINUTE_MS - 2000) * MINUTE_MS  # past /candles' 1,440 bars
        rows = await span(rest, symbol, start)
        assert_equal_to_series(sim, rows)
        assert rows[0][0] == start
        # Closed minutes only: the forming one is left to the stream.
        assert rows[-1][6] < now_ms() and now_ms() - rows[-1][6] < 2 * MINUTE_MS
        assert len(rows) == 1999 or len(rows) == 2000
        requests = sim.stats.requests
        assert requests[HISTORY] >= 2 and requests[CANDLES] >= 2
        assert rest.requests == sum(requests[p] for p in okx_rest.DOCUMENTED_LIMITS)
        assert rest.malformed == 0


async def test_an_audit_window_longer_than_a_page_comes_back_whole() -> None:
    async with okx_sim() as sim, source(sim, SPOT) as rest:
        start = (now_ms() // MINUTE_MS - 3000) * MINUTE_MS
        rows = await rest.klines("BTC-USDT", start, start + 999 * MINUTE_MS)
        assert len(rows) == 1000
        assert_equal_to_series(sim, rows)
        one = await rest.klines("BTC-USDT", start + 30_000, limit=1)  # mid-minute start
        assert [r[0] for r in one] == [start + MINUTE_MS]


async def test_listing_time_and_server_time() -> None:
    async with okx_sim() as sim, source(sim, SWAP) as rest:
        first = sim.source.stores["BTCUSDT"].series.first_ms
        assert await rest.listing_ms("BTC-USDT-SWAP") == first // DAY_MS * DAY_MS
        before = now_ms()
        server = await rest.server_time()
        assert before - 1000 <= server <= now_ms() + 1000
        with pytest.raises(ExchangeRequestError):
            await rest.listing_ms("NOPE-USDT-SWAP")


async def test_an_unknown_instrument_is_refused_not_retried() -> None:
    async with okx_sim() as sim, source(sim, SPOT) as rest:
        sent = rest.requests
        with pytest.raises(ExchangeRequestError) as raised:
            await rest.klines("NOPE-USDT", now_ms() - 10 * MINUTE_MS)
        assert raised.value.code == "51001"
        assert rest.requests == sent + 1


async def test_a_backfill_burst_under_low_limits_is_never_refused() -> None:
    async with (
        okx_sim(low_settings(LOW)) as sim,
        source(sim, SPOT, low_budgets(LOW)) as spot,
        source(sim, SWAP, spot.budget) as swap,  # one IP: the budgets are shared
    ):
        start = (now_ms() // MINUTE_MS - 1800) * MINUTE_MS
        began = time.monotonic()
        spot_rows = await span(spot, "BTC-USDT", start)
        swap_rows = await span(swap, "BTC-USDT-SWAP", start)
        elapsed = time.monotonic() - began
        assert sim.venues.okx.limiter.rejections == 0
        assert spot.budget.rejections == 0
        assert len(spot_rows) >= 1799 and [r[0] for r in swap_rows] == [r[0] for r in spot_rows]
        assert_equal_to_series(sim, spot_rows)
        # 14 requests at 4 per 2 s (80% of 5) cannot all go out at once.
        assert elapsed >= 2.0


async def test_a_rate_limit_answer_is_waited_out_and_counted() -> None:
    async with okx_sim(low_settings(2)) as sim, source(sim, SPOT) as rest:
        start = (now_ms() // MINUTE_MS - 3000) * MINUTE_MS  # history-candles only
        rows = await span(rest, "BTC-USDT", start, start + 1499 * MINUTE_MS)
        assert sim.venues.okx.limiter.rejected[HISTORY] >= 1
        assert rest.budget.rejections == sum(sim.venues.okx.limiter.rejected.values())
        assert_equal_to_series(sim, rows)
        assert len(rows) == 1500 and rows[0][0] == start
