"""The Bybit REST source against the simulator's /v5/market (real sockets): klines over pages
equal to the series, listing and server time, pacing under a low per-IP limit, a 403 waited
out, and rows stored with the venue's key and NULL for what Bybit does not publish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import pytest
from collector_helpers import DAY_MS, MINUTE_MS, SimFactory, days_ago

from data_collector import backfill
from data_collector.bybit_rest import BYBIT_LINEAR, BYBIT_SPOT, BybitRest, make_rest
from data_collector.exchange import ExchangeRequestError, ExchangeRest
from data_collector.request_budget import SlidingBudget
from data_collector.rest_calls import Blocked, Ok, RateLimited, Refused, Retry
from data_collector.settings import CollectorSettings
from exchange_sim.server import SimServer
from linkora_core.markets import Market, Venue


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as made:
        yield made


def source_rows(sim: SimServer, symbol: str, start: int, end: int) -> list[list[Any]]:
    return [list(row) for row in sim.source.klines(symbol, start, end)]


def assert_same(rows: list[list[Any]], reference: list[list[Any]]) -> None:
    """Bybit rows in Binance's layout against the simulator's series, as exact decimals."""
    assert [row[0] for row in rows] == [ref[0] for ref in reference]
    for row, ref in zip(rows, reference, strict=True):
        assert row[6] == ref[6]
        assert [Decimal(row[i]) for i in (1, 2, 3, 4, 5, 7)] == [
            Decimal(str(ref[i])) for i in (1, 2, 3, 4, 5, 7)
        ]
        assert row[8:] == [None, None, None, "0"]


async def closed_span(rest: BybitRest, minutes: int) -> tuple[int, int]:
    now = await rest.server_time()
    last = now // MINUTE_MS * MINUTE_MS - MINUTE_MS  # the newest closed minute
    return last - (minutes - 1) * MINUTE_MS, last


@pytest.mark.parametrize("venue", [BYBIT_SPOT, BYBIT_LINEAR])
async def test_klines_over_several_pages_equal_the_series(
    make_sim: SimFactory, session: aiohttp.ClientSession, venue: Venue
) -> None:
    sim = await make_sim()
    rest = BybitRest(venue, session, sim.rest_url)
    source: ExchangeRest = rest
    await source.prepare()
    start, last = await closed_span(rest, 2_500)
    rows: list[list[Any]] = []
    async for page in backfill.fetch_span(source, Market(venue, "BTCUSDT"), start, end_ms=last):
        rows += page.rows
    assert len(rows) == 2_500
    assert_same(rows, source_rows(sim, "BTCUSDT", start, last))
    assert rest.requests == 1 + 2 + 3  # instruments, time twice, three 1000-minute pages
    assert (rest.malformed, rest.budget.rejections) == (0, 0)


async def test_a_page_asked_with_a_limit_or_mid_minute_start_keeps_to_it(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim()
    rest = BybitRest(BYBIT_SPOT, session, sim.rest_url)
    start, last = await closed_span(rest, 50)
    rows = await rest.klines("ETHUSDT", start + 1, last, limit=10)
    assert [row[0] for row in rows] == [start + i * MINUTE_MS for i in range(1, 11)]
    assert_same(rows, source_rows(sim, "ETHUSDT", start + MINUTE_MS, start + 10 * MINUTE_MS))
    assert await rest.klines("ETHUSDT", last + 1, last) == []


async def test_listing_is_the_linear_launch_time_and_the_first_spot_kline(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(start=days_ago(3))
    first = sim.source.stores["BTCUSDT"].series.first_ms
    linear = BybitRest(BYBIT_LINEAR, session, sim.rest_url)
    await linear.prepare()
    assert await linear.listing_ms("BTCUSDT") == first // DAY_MS * DAY_MS
    spot = BybitRest(BYBIT_SPOT, session, sim.rest_url)
    await spot.prepare()
    assert set(spot.instruments) == {"BTCUSDT", "ETHUSDT"}
    assert await spot.listing_ms("BTCUSDT") == first


async def test_server_time_is_the_simulator_clock(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim()
    rest = BybitRest(BYBIT_LINEAR, session, sim.rest_url)
    before = sim.clock.now_ms()
    served = await rest.server_time()
    assert before <= served <= sim.clock.now_ms()


async def test_an_unknown_symbol_is_a_refused_request(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim()
    rest = BybitRest(BYBIT_SPOT, session, sim.rest_url)
    with pytest.raises(ExchangeRequestError) as refused:
        await rest.klines("NOPEUSDT", 0, 60_000)
    assert refused.value.code == 10001


async def test_a_burst_under_a_low_ip_limit_is_paced_without_a_rejection(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(bybit_ip_limit=6, bybit_ip_window_seconds=1.0, bybit_ban_seconds=1.0)
    # The budget keeps half of this small limit (at 600 a window a fifth is left spare).
    rest = BybitRest(
        BYBIT_LINEAR, session, sim.rest_url, SlidingBudget(6, 1.0, 0.5), ban_seconds=1.5
    )
    start, last = await closed_span(rest, 14 * 100)
    began = time.monotonic()
    pages = await asyncio.gather(
        *(rest.klines("BTCUSDT", start + i * 100 * MINUTE_MS, limit=100) for i in range(14))
    )
    elapsed = time.monotonic() - began
    assert_same([r for page in pages for r in page], source_rows(sim, "BTCUSDT", start, last))
    assert sim.stats.statuses[403] == 0 and rest.budget.rejections == 0
    assert elapsed >= 3.5  # 15 requests at 3 a second: paced, not sent at once


async def test_an_ip_limit_answer_is_waited_out_not_raised(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(bybit_ip_limit=3, bybit_ip_window_seconds=1.0, bybit_ban_seconds=1.0)
    # A budget far above the simulator's limit, so the simulator answers 403.
    rest = BybitRest(BYBIT_SPOT, session, sim.rest_url, SlidingBudget(100, 1.0), ban_seconds=1.5)
    start, last = await closed_span(rest, 8 * 10)
    pages = await asyncio.gather(
        *(rest.klines("ETHUSDT", start + i * 10 * MINUTE_MS, limit=10) for i in range(8))
    )
    assert_same([r for page in pages for r in page], source_rows(sim, "ETHUSDT", start, last))
    assert sim.stats.statuses[403] >= 1
    assert rest.budget.rejections >= 1


async def test_the_verdicts_of_bybit_answers(session: aiohttp.ClientSession) -> None:
    rest = BybitRest(BYBIT_SPOT, session, "http://127.0.0.1:1")

    def envelope(code: int, msg: str = "") -> dict[str, Any]:
        return {"retCode": code, "retMsg": msg, "result": {"a": 1}, "retExtInfo": {}, "time": 1}

    judge = rest.judge
    assert judge(200, envelope(0), {}) == Ok({"a": 1})
    assert judge(403, None, {}) == RateLimited(600.0)
    assert judge(429, None, {"Retry-After": "3"}) == RateLimited(3.0)
    assert judge(200, envelope(10018, "Exceeded the IP Rate Limit"), {}) == RateLimited(600.0)
    reset = str(int((time.time() + 5) * 1000))
    limited = judge(200, envelope(10006), {"X-Bapi-Limit-Reset-Timestamp": reset})
    assert isinstance(limited, RateLimited) and 3 < limited.wait <= 5
    assert isinstance(judge(200, envelope(10009, "IP has been banned"), {}), Blocked)
    assert judge(200, envelope(10001, "Not supported symbols"), {}) == Refused(
        10001, "Not supported symbols"
    )
    assert isinstance(judge(200, envelope(10016, "server error"), {}), Retry)
    assert isinstance(judge(502, None, {}), Retry)
    assert isinstance(judge(404, None, {}), Refused)
    assert isinstance(judge(200, {"nope": 1}, {}), Retry) and rest.malformed == 1


async def test_make_rest_takes_the_settings_hosts_and_budget_fraction() -> None:
    settings = CollectorSettings(
        _env_file=None, bybit_base_url="http://127.0.0.1:1/", weight_budget_fraction=0.5
    )  # type: ignore[call-arg]
    async with aiohttp.ClientSession() as session:
        rest = make_rest(settings, session, BYBIT_LINEAR)
    assert (rest.venue, rest.category, rest.calls.base_url) == (
        BYBIT_LINEAR, "linear", "http://127.0.0.1:1",
    )  # fmt: skip
    assert (rest.budget.limit, rest.budget.window, rest.budget.allowance) == (600, 5.0, 300)


async def test_backfilled_rows_carry_the_venue_key_and_null_for_the_unpublished(
    make_sim: SimFactory, session: aiohttp.ClientSession, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim()
    rest = BybitRest(BYBIT_LINEAR, session, sim.rest_url)
    market = Market(BYBIT_LINEAR, "ETHUSDT")
    start, last = await closed_span(rest, 1_200)
    writer = backfill.BulkWriter(clean_db)
    running = asyncio.create_task(writer.run())
    async for page in backfill.fetch_span(rest, market, start, end_ms=last):
        await writer.put(page)
    await writer.close()
    await running
    stored = await clean_db.fetch(
        "SELECT venue, symbol, open_time, trades, taker_buy_volume, taker_buy_quote_volume,"
        " close_price, quote_volume, is_closed FROM candles ORDER BY open_time"
    )
    assert len(stored) == 1_200
    assert {(r["venue"], r["symbol"]) for r in stored} == {("bybit-linear", "ETHUSDT")}
    assert all(r["trades"] is None and r["taker_buy_volume"] is None for r in stored)
    assert all(r["taker_buy_quote_volume"] is None and r["is_closed"] for r in stored)
    reference = source_rows(sim, "ETHUSDT", start, last)
    assert [r["close_price"] for r in stored] == [Decimal(str(ref[4])) for ref in reference]
    assert [r["quote_volume"] for r in stored] == [Decimal(str(ref[7])) for ref in reference]
