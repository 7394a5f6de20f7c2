"""The whole Collector against the simulator, for every venue but Binance spot (the rest of
the suite covers that one): the backfill from START_DATE equals the simulator's series field
by field, closed minutes arrive over the venue's WebSocket and are stored and published on
its channels, 20-level books are stored and published, a minute that opened and closed while
the sockets were refused is filled from REST after the reconnect, a backfill under a low
request limit is paced without one refusal, and a book whose sequence breaks is resynced
with no out-of-sync book stored or published."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import pytest
from collector_helpers import MINUTE_MS, SimFactory, days_ago, redis_messages
from redis.asyncio import Redis
from venue_harness import (
    BINANCE_USDM,
    MARKETS,
    SimBooks,
    Top,
    VenueHarness,
    assert_rows_equal_series,
    assert_whole,
    book_of_message,
    book_of_row,
    open_ms,
    stored_closed,
    venue_settings,
)

from data_collector import okx_rest
from data_collector.binance_futures_rest import BinanceFuturesRest
from data_collector.bybit_rest import BybitRest
from data_collector.exchange import ExchangeRest
from data_collector.okx_rest import OkxBudgets, OkxRest
from data_collector.request_budget import SlidingBudget
from data_collector.weights import WeightBudget
from data_collector.whitebit_rest import WhitebitRest
from exchange_sim.server import SimServer
from exchange_sim.whitebit.limits import Limits
from linkora_core import market_messages
from linkora_core.bus import candle_channels, orderbook_channels
from linkora_core.markets import Exchange, Market, Venue
from tests.polling import eventually

# Simulated time 30x faster (a minute lasts 2 s), candles pushed often.
FAST = {"clock_speed": 30.0, "kline_push_interval": 0.2, "bybit_book_push_interval": 0.1}
BACKFILL_MINUTES = 180  # START_DATE three simulated hours back


@dataclass(eq=False)
class Heard:
    """Candle and book messages published on one market's channels, in order."""

    candles: list[dict[str, Any]] = field(default_factory=list)
    books: list[dict[str, Any]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def listening(redis_url: str, market: Market) -> AsyncIterator[Heard]:
    candles, books = candle_channels(market)[1], orderbook_channels(market)[1]
    heard = Heard()

    def message(channel: str, data: bytes) -> None:
        (heard.candles if channel == candles else heard.books).append(market_messages.decode(data))

    async with redis_messages(redis_url, [candles, books], message):
        yield heard


@contextlib.asynccontextmanager
async def collecting(
    sim: SimServer, market: Market, pool: asyncpg.Pool, redis: Redis, **overrides: Any
) -> AsyncIterator[VenueHarness]:
    start = (sim.clock.now_ms() // MINUTE_MS - BACKFILL_MINUTES) * MINUTE_MS
    harness = VenueHarness(venue_settings(sim, [market], start, **overrides), pool, redis)
    try:
        await harness.run_until_backfilled()
        yield harness
    finally:
        await harness.close()


def connections(harness: VenueHarness, venue: Venue) -> list[int]:
    return [stream.connections for stream in harness.collector.streams.get(venue, [])]


@pytest.mark.parametrize("market", MARKETS, ids=lambda m: m.venue.key)
async def test_backfill_live_candles_books_and_a_reconnect_gap_fill(
    market: Market,
    make_sim: SimFactory,
    clean_db: asyncpg.Pool,
    redis: Redis,
    redis_url: str,
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    venue = market.venue
    async with (
        listening(redis_url, market) as heard,
        collecting(sim, market, clean_db, redis, orderbook_store_interval=0.2) as harness,
    ):
        collector = harness.collector
        start = collector.settings.start_ms
        # 1. The backfill: every minute from START_DATE on, equal to the series.
        rows = await stored_closed(clean_db, market)
        assert open_ms(rows[0]) == start and len(rows) >= BACKFILL_MINUTES
        assert_rows_equal_series(sim, market, rows, start, open_ms(rows[-1]))
        assert collector.status.of(market).phase == "realtime"

        # 2. Live: a minute seen open on the socket, then closed, stored and published.
        await eventually(lambda: all(connections(harness, venue)), 30, what="connected")
        live_open = await eventually(
            lambda: next((c for c in heard.candles if not c["closed"]), None),
            30, what="an open minute published",
        )  # fmt: skip
        assert live_open is not None
        minute = live_open["timestamp"]
        closed = await eventually(
            lambda: next(
                (c for c in heard.candles if c["closed"] and c["timestamp"] == minute), None
            ),
            30, what="the open minute published closed",
        )  # fmt: skip
        assert closed is not None
        assert (closed["exchange"], closed["kind"]) == (venue.exchange.value, venue.kind.value)
        assert closed["symbol"] == market.symbol
        (kline,) = sim.source.klines("BTCUSDT", minute, minute)
        assert Decimal(closed["close"]) == Decimal(kline[4])
        assert (closed["trades"] is None) is (venue != BINANCE_USDM)

        async def stored_minute() -> bool:
            return minute in [open_ms(r) for r in await stored_closed(clean_db, market)]

        await eventually(stored_minute, 20, what="the live minute stored closed")

        # 3. Books: 20 levels a side, stored under the venue and published.
        async def books_stored() -> list[asyncpg.Record]:
            rows: list[asyncpg.Record] = await clean_db.fetch(
                "SELECT * FROM orderbook_data WHERE venue = $1 AND symbol = $2",
                venue.key, market.symbol,
            )  # fmt: skip
            return rows if len(rows) >= 3 else []

        for row in await eventually(books_stored, 30, what="books stored"):
            assert_whole(book_of_row(row), f"stored book {row['last_update_id']}")
        await eventually(lambda: len(heard.books) >= 3, 20, what="books published")
        for message in heard.books:
            assert_whole(book_of_message(message), f"published {message['last_update_id']}")
        assert await clean_db.fetchval("SELECT count(DISTINCT venue) FROM orderbook_data") == 1

        # 4. Reconnect: no socket for 5 s (2.5 simulated minutes), so the minute after the
        # cut opens and closes unseen; after the reconnect REST fills it.
        before = connections(harness, venue)
        sim.faults.set(refuse_ws_seconds=5.0)
        assert await sim.drop_connections() >= len(before)
        cut = sim.clock.now_ms()
        unseen = cut // MINUTE_MS * MINUTE_MS + MINUTE_MS
        await eventually(
            lambda: all(n > b for n, b in zip(connections(harness, venue), before, strict=True)),
            40, what="every stream reconnected",
        )  # fmt: skip

        async def filled() -> list[asyncpg.Record]:
            rows = await stored_closed(clean_db, market)
            return rows if rows and open_ms(rows[-1]) >= unseen + 2 * MINUTE_MS else []

        rows = await eventually(filled, 40, what="the minutes after the cut stored")
        assert unseen in [open_ms(r) for r in rows]
        assert_rows_equal_series(sim, market, rows, start, open_ms(rows[-1]))
        assert sim.stats.ws_refused >= 1
        assert all(getattr(stream, "malformed", 0) == 0 for stream in collector.streams[venue])
        assert harness.collector.health()["venues"][venue.key]["rejections"] == 0


def break_sequence(sim: SimServer, venue: Venue) -> None:
    """The venue's injected sequence gap: one diff (Binance, OKX, WhiteBIT) or update id
    (Bybit) left out of the book stream."""
    venues = sim.venues
    if venue == BINANCE_USDM:
        venues.futures.faults.skip_diff_next = 1
    elif venue.exchange is Exchange.BYBIT:
        venues.bybit.faults.set(skip_u_next=1)
    elif venue.exchange is Exchange.OKX:
        venues.okx.book.set(skip_next=1)
    else:
        venues.whitebit.faults.set(skip_delta_next=1)


def compare_books(truth: SimBooks, books: list[tuple[int, Top]], what: str) -> int:
    """Every book whole and, where the simulator's book of its id is known, equal to it;
    the number compared."""
    compared = 0
    for update_id, top in books:
        assert_whole(top, f"{what} {update_id}")
        known = truth.truth(update_id)
        if known:
            assert top in known, f"{what} {update_id} differs from the simulator's book"
            compared += 1
    return compared


# At the simulator's real speed: its USDⓈ-M diffs then cover one 100 ms step each (faster
# clocks make snapshots inside a diff, see test_binance_futures_streams).
@pytest.mark.parametrize("market", MARKETS, ids=lambda m: m.venue.key)
async def test_a_sequence_gap_is_resynced_and_no_out_of_sync_book_is_stored(
    market: Market,
    make_sim: SimFactory,
    clean_db: asyncpg.Pool,
    redis: Redis,
    redis_url: str,
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    venue = market.venue
    truth = SimBooks(sim, market)
    watcher = asyncio.create_task(truth.watch())
    try:
        async with (
            listening(redis_url, market) as heard,
            collecting(sim, market, clean_db, redis, orderbook_store_interval=0) as harness,
        ):

            def resyncs() -> int:
                figures: int = harness.collector.health()["venues"][venue.key]["book_resyncs"]
                return figures

            await eventually(lambda: len(heard.books) >= 10, 30, what="books published")
            assert resyncs() == 0
            break_sequence(sim, venue)
            await eventually(lambda: resyncs() >= 1, 30, what="a resync")
            seen = len(heard.books)
            await eventually(lambda: len(heard.books) >= seen + 10, 30, what="books again")
            # Let the store write what it holds.
            await asyncio.sleep(1.5)
            rows = await clean_db.fetch(
                "SELECT * FROM orderbook_data WHERE venue = $1 AND symbol = $2"
                " ORDER BY captured_at",
                venue.key, market.symbol,
            )  # fmt: skip
            published = [(m["last_update_id"], book_of_message(m)) for m in heard.books]
            stored = [(r["last_update_id"], book_of_row(r)) for r in rows]
            assert len(stored) >= 10
            assert compare_books(truth, published, "published book") >= 10
            assert compare_books(truth, stored, "stored book") >= 5
            assert {m["symbol"] for m in heard.books} == {market.symbol}
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


@dataclass(frozen=True)
class Pressure:
    """A venue's simulator limit set low and the collector's REST source paced to it."""

    limit: Callable[[SimServer], None]
    source: Callable[[SimServer, aiohttp.ClientSession], ExchangeRest]
    rejected: Callable[[SimServer], int]  # the venue's own count of refusals
    least_seconds: float  # the pacing the limit forces on this backfill


SPEED = 30.0  # Binance's weight windows are minutes: its clocks run this much faster


_ORIGIN = time.time()


def _fast_clock() -> float:
    """Epoch seconds running SPEED times fast, for the collector and the simulator alike."""
    return _ORIGIN + (time.time() - _ORIGIN) * SPEED


async def _fast_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds / SPEED)


def _usdm_limit(sim: SimServer) -> None:
    limiter = sim.venues.futures.limiter
    limiter.clock, limiter.limit = _fast_clock, 20


def _okx_limit(sim: SimServer) -> None:
    limiter = sim.venues.okx.limiter
    limiter.limits = dict.fromkeys(limiter.limits, 5)


def pressure(market: Market) -> Pressure:
    venue = market.venue
    if venue == BINANCE_USDM:
        return Pressure(
            _usdm_limit,
            lambda sim, session: BinanceFuturesRest(
                session, sim.rest_url, WeightBudget(2400), clock=_fast_clock, sleep=_fast_sleep
            ),
            lambda sim: sim.stats.statuses[429] + sim.stats.statuses[418],
            # Seven 1000-row pages of weight 5 and the small calls at 16 a minute window (2 s
            # here): three windows, so at least one whole one waited.
            least_seconds=60 / SPEED,
        )
    if venue.exchange is Exchange.BYBIT:
        return Pressure(
            _bybit_limit,
            lambda sim, session: BybitRest(
                venue, session, sim.rest_url, SlidingBudget(6, 1.0, 0.5), ban_seconds=1.5
            ),
            lambda sim: sim.stats.statuses[403],
            least_seconds=2.0,  # 7 pages and 3 small calls at 3 a second
        )
    if venue.exchange is Exchange.OKX:
        return Pressure(
            _okx_limit,
            lambda sim, session: OkxRest(
                session,
                sim.rest_url,
                venue,
                budgets=OkxBudgets(limits=dict.fromkeys(okx_rest.DOCUMENTED_LIMITS, 5)),
            ),
            lambda sim: sim.venues.okx.limiter.rejections,
            least_seconds=6.0,  # 20 pages of 300 rows at 4 every 2 s
        )
    return Pressure(
        lambda sim: setattr(sim.venues.whitebit.limiter, "limits", Limits(kline=2, window=1.0)),
        lambda sim, session: WhitebitRest(session, sim.rest_url, SlidingBudget(2, 1.0)),
        lambda sim: sum(sim.venues.whitebit.limiter.rejected.values()),
        least_seconds=2.0,  # 5 pages of 1440 rows at 1 a second
    )


def _bybit_limit(sim: SimServer) -> None:
    limiter = sim.venues.bybit.limiter
    limiter.limit, limiter.window, limiter.ban_seconds = 6, 1.0, 1.0


@pytest.mark.parametrize("market", MARKETS, ids=lambda m: m.venue.key)
async def test_a_backfill_under_a_low_request_limit_gets_no_rejection(
    market: Market, make_sim: SimFactory, clean_db: asyncpg.Pool, redis: Redis
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), start=days_ago(4))
    case = pressure(market)
    case.limit(sim)
    start = sim.source.stores["BTCUSDT"].series.first_ms
    settings = venue_settings(sim, [market], start)

    def sources(session: aiohttp.ClientSession) -> Mapping[Venue, ExchangeRest]:
        return {market.venue: case.source(sim, session)}

    harness = VenueHarness(settings, clean_db, redis, sources)
    try:
        began = time.monotonic()
        await harness.backfill()
        took = time.monotonic() - began
        rows = await stored_closed(clean_db, market)
        assert open_ms(rows[0]) == start
        assert_rows_equal_series(sim, market, rows, start, open_ms(rows[-1]))
        assert open_ms(rows[-1]) >= sim.clock.now_ms() - 3 * MINUTE_MS
        figures = harness.collector.health()["venues"][market.venue.key]
        assert figures["rejections"] == 0
        assert case.rejected(sim) == 0
        assert sim.stats.statuses[429] == sim.stats.statuses[403] == sim.stats.statuses[418] == 0
        assert took >= case.least_seconds, f"{took:.1f} s: the limit put no pressure on it"
    finally:
        await harness.close()
