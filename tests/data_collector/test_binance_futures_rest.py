"""The Binance USDⓈ-M REST source against the simulator's /fapi/v1: exact pages, listing,
time, pacing under a low weight limit with no rejections, rate limits waited out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from collector_helpers import SimFactory

from data_collector import backfill
from data_collector.binance_futures_payloads import BINANCE_USDM
from data_collector.binance_futures_rest import BinanceFuturesRest, futures_verdict, make_rest
from data_collector.exchange import ExchangeRequestError, ExchangeRest
from data_collector.rest_calls import Blocked, RateLimited, Refused, Retry
from data_collector.settings import CollectorSettings
from data_collector.weights import WeightBudget
from exchange_sim.server import SimServer
from linkora_core.markets import Market

MINUTE = 60_000
NOW_MS = int(datetime(2024, 3, 11, 12, 34, tzinfo=UTC).timestamp()) * 1000 + 34_567
BTC = Market(BINANCE_USDM, "BTCUSDT")
SPEED = 30.0  # the weight windows' clock, shared with the simulator's limiter


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


async def frozen_sim(make_sim: SimFactory) -> SimServer:
    return await make_sim(start="2024-02-01", clock_origin_ms=NOW_MS, clock_speed=0.0)


def fast_rest(sim: SimServer, session: aiohttp.ClientSession, limit: int) -> BinanceFuturesRest:
    """A source and the simulator's futures limiter on one clock running SPEED times fast."""
    origin = time.time()

    def clock() -> float:
        return origin + (time.time() - origin) * SPEED

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds / SPEED)

    limiter = sim.venues.futures.limiter
    limiter.clock, limiter.limit = clock, limit
    return BinanceFuturesRest(session, sim.rest_url, WeightBudget(6000), clock=clock, sleep=sleep)


def exact(rows: list[list[Any]]) -> list[list[Any]]:
    return [[Decimal(v) if isinstance(v, str) else v for v in row] for row in rows]


async def test_pages_of_the_backfill_equal_the_simulators_series(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await frozen_sim(make_sim)
    rest: ExchangeRest = BinanceFuturesRest(session, sim.rest_url)
    await rest.prepare()
    assert rest.page_minutes == 1000 and rest.finds_next and rest.venue.key == "binance-usdm"
    start = NOW_MS - NOW_MS % MINUTE - 4321 * MINUTE
    pages = [page async for page in backfill.fetch_span(rest, BTC, start, concurrency=3)]
    assert len(pages) == 5
    rows = [row for page in pages for row in page.rows]
    source = sim.source.klines("BTCUSDT", start, NOW_MS)
    assert rows == source  # the exchange's text, unchanged
    assert exact(rows) == exact(source)
    assert all(row[8] is not None and row[9] is not None for row in rows)
    assert rest.requests == 1 + 1 + 5  # exchangeInfo, time, pages


async def test_listing_time_and_server_time(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await frozen_sim(make_sim)
    rest = BinanceFuturesRest(session, sim.rest_url)
    assert await rest.server_time() == NOW_MS
    first = sim.source.stores["BTCUSDT"].series.first_ms
    assert await rest.listing_ms("BTCUSDT") == first  # from the first kline, before prepare
    await rest.prepare()
    requests = rest.requests
    assert await rest.listing_ms("BTCUSDT") == first  # exchangeInfo's onboardDate
    assert rest.requests == requests
    assert first == sim.source.klines("BTCUSDT", 0, first + MINUTE)[0][0]


async def test_a_burst_under_a_low_weight_limit_gets_no_rejection(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await frozen_sim(make_sim)
    rest = fast_rest(sim, session, limit=40)  # 32 a window: six pages of weight 5
    await rest.prepare()
    assert rest.budget.limit == 40 and rest.budget.allowance == 32
    start = NOW_MS - NOW_MS % MINUTE - 20 * 1000 * MINUTE
    began = time.monotonic()
    pages = await asyncio.gather(
        *(rest.klines("BTCUSDT", start + i * 1000 * MINUTE, limit=1000) for i in range(20))
    )
    elapsed = time.monotonic() - began
    assert sim.stats.statuses[429] == 0 and sim.stats.statuses[418] == 0
    assert rest.budget.rejections == 0
    assert rest.reported_weight is not None and rest.reported_weight <= 40
    rows = [row for page in pages for row in page]
    assert rows == sim.source.klines("BTCUSDT", start, start + 20_000 * MINUTE - 1)
    # 100 weight at 32 a window: at least three window turns (2 s each at SPEED).
    assert elapsed >= 3 * 60 / SPEED - 2


async def test_a_forced_rate_limit_is_waited_out_not_raised(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await frozen_sim(make_sim)
    rest = fast_rest(sim, session, limit=2400)
    sim.faults.set(force_429_next=1, retry_after_seconds=30)
    began = time.monotonic()
    rows = await rest.klines("BTCUSDT", NOW_MS - 10 * MINUTE, limit=5)
    assert len(rows) == 5
    assert rest.budget.rejections == 1 and rest.requests == 2
    assert sim.stats.statuses[429] == 1 and sim.stats.statuses[418] == 0
    assert time.monotonic() - began >= 30 / SPEED - 0.1


async def test_outages_are_retried_and_bad_requests_refused(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await frozen_sim(make_sim)
    rest = BinanceFuturesRest(session, sim.rest_url)
    sim.faults.set(error_next=2)
    assert await rest.server_time() == NOW_MS
    assert rest.requests == 3
    with pytest.raises(ExchangeRequestError) as refused:
        await rest.klines("NOPEUSDT", NOW_MS - MINUTE)
    assert refused.value.status == 400 and refused.value.code == -1121


def test_the_verdicts_of_binance_answers() -> None:
    assert futures_verdict(429, {"code": -1003}, {"Retry-After": "7"}) == RateLimited(7.0)
    assert futures_verdict(418, {"code": -1003}, {}) == RateLimited(120.0)
    assert isinstance(futures_verdict(403, None, {}), Blocked)
    assert isinstance(futures_verdict(451, None, {}), Blocked)
    assert futures_verdict(400, {"code": -1121, "msg": "Invalid symbol."}, {}) == Refused(
        -1121, "Invalid symbol."
    )
    assert isinstance(futures_verdict(503, None, {}), Retry)


async def test_make_rest_reads_the_futures_host_and_the_budget_fraction(
    session: aiohttp.ClientSession,
) -> None:
    settings = CollectorSettings(  # type: ignore[call-arg]
        _env_file=None, binance_futures_base_url="http://h:1", weight_budget_fraction=0.5
    )
    rest = make_rest(settings, session)
    assert rest.budget.limit == 2400 and rest.budget.allowance == 1200
