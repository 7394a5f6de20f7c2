"""The WhiteBIT REST source against the simulator's WhiteBIT API (real sockets)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest
from collector_helpers import MINUTE_MS, SimFactory, days_ago

from data_collector import paging
from data_collector.exchange import ExchangeRequestError
from data_collector.request_budget import SlidingBudget
from data_collector.whitebit_rest import KLINE_LIMIT, WhitebitRest
from exchange_sim.whitebit import Limits


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_klines_over_several_pages_equal_the_simulators_series(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), start=days_ago(4))
    rest = WhitebitRest(session, sim.rest_url)
    assert rest.page_minutes == KLINE_LIMIT == 1440
    first = await rest.listing_ms("BTC_USDT")
    assert first is not None
    end = first + (3 * KLINE_LIMIT + 17) * MINUTE_MS
    rows = []
    for window in paging.windows(first, end, rest.page_minutes):
        page = await rest.klines("BTC_USDT", window.start_ms, window.end_ms)
        paging.check_page(page, window)
        rows += page
    expected = sim.source.klines("BTCUSDT", first, end)
    assert len(rows) == len(expected) == 3 * KLINE_LIMIT + 18
    assert rest.requests == 5  # the listing and four pages
    for got, want in zip(rows, expected, strict=True):
        assert got[0] == want[0] and got[6] == want[6]
        assert [Decimal(v) for v in (*got[1:6], got[7])] == [
            Decimal(v) for v in (*want[1:6], want[7])
        ]
        assert got[8:11] == [None, None, None]


async def test_listing_time_markets_and_refusals(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim()
    rest = WhitebitRest(session, sim.rest_url)
    await rest.prepare()
    assert rest.markets == ["BTC_USDT", "ETH_USDT"]
    assert await rest.listing_ms("ETH_USDT") == sim.source.klines("ETHUSDT", 0, 2**42)[0][0]
    assert abs(await rest.server_time() - sim.clock.now_ms()) <= 2000
    with pytest.raises(ExchangeRequestError) as refused:
        await rest.klines("NOPE_USDT", 0)
    assert refused.value.status == 422 and "Market is not available" in str(refused.value)
    assert rest.budget.rejections == 0 and rest.malformed == 0


async def test_a_backfill_sized_burst_under_a_low_limit_gets_no_429(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    whitebit = sim.venues.whitebit
    whitebit.limiter.limits = Limits(kline=5, window=1.0)
    rest = WhitebitRest(session, sim.rest_url, SlidingBudget(5, 1.0))
    first = await rest.listing_ms("BTC_USDT")
    assert first is not None
    spans = list(paging.windows(first, first + 24 * 60 * MINUTE_MS - 1, 60))
    began = time.monotonic()
    pages = await asyncio.gather(
        *(rest.klines("BTC_USDT", w.start_ms, w.end_ms, 60) for w in spans)
    )
    took = time.monotonic() - began
    assert [len(page) for page in pages] == [60] * 24
    assert whitebit.limiter.rejected["kline"] == 0
    assert rest.budget.rejections == 0
    assert took >= 4.0  # 24 requests at 4 a second: the budget paced them


async def test_a_rate_limit_answer_is_waited_out_not_raised(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    rest = WhitebitRest(session, sim.rest_url, rate_limit_wait=0.5)
    first = await rest.listing_ms("BTC_USDT")
    assert first is not None
    sim.faults.set(force_429_next=2)
    began = time.monotonic()
    rows = await rest.klines("BTC_USDT", first, first + 9 * MINUTE_MS)
    assert len(rows) == 10
    assert rest.budget.rejections == 2
    assert sim.venues.whitebit.limiter.rejected["kline"] == 2
    assert time.monotonic() - began >= 2.0  # a 429 costs at least a second of silence
