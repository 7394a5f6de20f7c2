"""OKX real time through VenueStream against the simulator (real sockets, PostgreSQL and
Redis): candles on /ws/v5/business stored with OKX's confirm flag and the venue's key, books
on /ws/v5/public published 20 deep and never out of sync across an injected gap, and the
REST gap fill after a dropped connection."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import pytest
from collector_helpers import MINUTE_MS, days_ago, redis_messages
from redis.asyncio import Redis

from data_collector import adapters
from data_collector.catch_up import catch_up
from data_collector.live_store import LiveStore
from data_collector.okx_protocol import OkxFeed
from data_collector.okx_rest import OkxRest
from data_collector.publisher import Publisher
from data_collector.settings import CollectorSettings
from data_collector.status import CollectorStatus
from data_collector.venue_stream import VenueStream
from exchange_sim.config import SimConfig
from exchange_sim.okx import OkxSettings, OkxVenue
from exchange_sim.okx import payloads as sim_payloads
from exchange_sim.okx.book_stream import BookStream
from exchange_sim.okx.instruments import lookup
from exchange_sim.server import SimServer
from linkora_core import market_messages
from linkora_core.books import Level
from linkora_core.bus import orderbook_channels
from linkora_core.markets import Exchange, Kind, Market, Venue
from tests.polling import eventually

SPOT = Venue(Exchange.OKX, Kind.SPOT)
MARKET = Market(SPOT, "BTC-USDT")
SWAP_MARKET = Market(Venue(Exchange.OKX, Kind.SWAP), "BTC-USDT-SWAP")
SPEED = 30.0  # a simulated minute lasts 2 s
Top = tuple[tuple[Level, ...], tuple[Level, ...]]


@dataclass(eq=False)
class Live:
    sim: SimServer
    rest: OkxRest
    pool: asyncpg.Pool
    store: LiveStore
    status: CollectorStatus
    streams: dict[OkxFeed, VenueStream] = field(default_factory=dict)
    truth: dict[int, Top] = field(default_factory=dict)  # the simulator's book at each seqId


def record_truth(sim: SimServer, truth: dict[int, Top], market: Market = MARKET) -> None:
    """The simulator's books stream of `market`, recording its top 20 at every seqId, sizes
    in base currency (a swap's contracts times its ctVal)."""
    okx = sim.venues.okx
    inst = lookup(market.symbol, sim.source.stores)
    assert inst is not None
    stream = okx.hub.books[inst.inst_id] = BookStream(inst, sim.state, okx.settings, okx.book)

    def top() -> None:
        assert stream.book is not None
        bids, asks = stream.book.top(20)
        truth[stream.book.seq] = (_levels(inst, bids), _levels(inst, asks))

    join, tick = stream.join, stream.tick

    def joined(outbox: asyncio.Queue[str]) -> None:
        join(outbox)
        top()

    def ticked() -> None:
        tick()
        top()

    stream.join, stream.tick = joined, ticked  # type: ignore[method-assign]


def _levels(inst: Any, side: list[tuple[int, int]]) -> tuple[Level, ...]:
    unit = Decimal(inst.ct_val) if inst.swap else Decimal(1)
    return tuple((Decimal(p), Decimal(q) * unit) for p, q, *_ in sim_payloads.levels(inst, side))


@contextlib.asynccontextmanager
async def live(
    pool: asyncpg.Pool,
    redis: Redis,
    feeds: tuple[OkxFeed, ...],
    speed: float = SPEED,
    market: Market = MARKET,
) -> AsyncIterator[Live]:
    settings = OkxSettings(candle_push_interval=0.2)
    sim = SimServer(SimConfig(symbols=("BTCUSDT",), start=days_ago(1), seed=3, clock_speed=speed))
    sim.venues = dataclasses.replace(sim.venues, okx=OkxVenue(sim.state, settings))
    await sim.start()
    truth: dict[int, Top] = {}
    record_truth(sim, truth, market)
    values: dict[str, Any] = {
        "okx_base_url": sim.rest_url,
        "okx_stream_url": sim.stream_url,
        "start_date": sim.config.start,
        "symbols": "BTCUSDT",
    }
    collector = CollectorSettings(_env_file=None, **values)  # type: ignore[call-arg]
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        rest = OkxRest(session, collector.okx_base_url, market.venue)
        await rest.prepare()
        store, publisher, status = LiveStore(pool, 0.0), Publisher(redis), CollectorStatus()
        start_ms = sim.clock.now_ms() // MINUTE_MS * MINUTE_MS - 20 * MINUTE_MS

        async def fill(market: Market) -> int:
            return await catch_up(rest, pool, store, publisher, status.of(market), start_ms)

        state = Live(sim, rest, pool, store, status, truth=truth)
        # The venue's two connections as the collector builds them (adapters.live_streams).
        parts = adapters.StreamParts(session, store, publisher, status, fill)
        for name, stream in adapters.live_streams(collector, rest, [market], parts):
            assert isinstance(stream, VenueStream)
            if (feed := OkxFeed.CANDLES if name == "candles" else OkxFeed.BOOKS) in feeds:
                state.streams[feed] = stream
        tasks = [asyncio.create_task(store.run()), asyncio.create_task(publisher.run())]
        tasks += [asyncio.create_task(s.run(stop)) for s in state.streams.values()]
        try:
            yield state
        finally:
            stop.set()
            await asyncio.wait(tasks[2:], timeout=10)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await store.flush()
            await sim.close()


@contextlib.asynccontextmanager
async def books_heard(
    redis_url: str, market: Market = MARKET
) -> AsyncIterator[list[dict[str, Any]]]:
    """The book messages published for `market` while the block runs."""
    heard: list[dict[str, Any]] = []
    channels = [orderbook_channels(market)[1]]
    async with redis_messages(
        redis_url, channels, lambda _, data: heard.append(market_messages.decode(data))
    ):
        yield heard


async def stored(
    pool: asyncpg.Pool, closed: bool | None = None, market: Market = MARKET
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        """SELECT * FROM candles WHERE venue = $1 AND symbol = $2
           AND ($3::boolean IS NULL OR is_closed = $3) ORDER BY open_time""",
        market.venue.key,
        market.symbol,
        closed,
    )
    return rows


def open_ms(record: asyncpg.Record) -> int:
    return int(record["open_time"].timestamp()) * 1000


def contiguous(minutes: list[int]) -> bool:
    return all(b - a == MINUTE_MS for a, b in itertools.pairwise(minutes))


@pytest.mark.parametrize("market", [MARKET, SWAP_MARKET], ids=str)
async def test_live_candles_are_stored_with_okx_confirm_and_no_trade_count(
    clean_db: asyncpg.Pool, redis: Redis, market: Market
) -> None:
    """On swaps too, whose volume is stored in base currency (volCcy), not contracts."""
    async with live(clean_db, redis, (OkxFeed.CANDLES,), market=market) as state:
        stream = state.streams[OkxFeed.CANDLES]
        await eventually(lambda: stream.connections >= 1)
        first_closed = await eventually(lambda: stored(clean_db, True, market))
        # Closed minutes from the stream (not only the REST catch-up) and the open one.
        newest = open_ms(first_closed[-1])
        await eventually(lambda: _closed_after(clean_db, newest, market), within=20)
        await eventually(lambda: stored(clean_db, False, market))
        assert stream.malformed == 0
    rows = await stored(clean_db, True, market)
    minutes = [open_ms(r) for r in rows]
    assert contiguous(minutes) and len(minutes) >= 20
    assert {r["venue"] for r in rows} == {market.venue.key}
    assert all(r["trades"] is None and r["taker_buy_volume"] is None for r in rows)
    assert all(r["taker_buy_quote_volume"] is None for r in rows)
    series = state.sim.source.klines("BTCUSDT", minutes[0], minutes[-1])
    for row, source in zip(rows, series, strict=True):
        prices = [row[c] for c in ("open_price", "high_price", "low_price", "close_price")]
        assert prices == [Decimal(v) for v in source[1:5]]
        assert (row["volume"], row["quote_volume"]) == (Decimal(source[5]), Decimal(source[7]))
    assert state.status.of(market).last_closed_ms == minutes[-1]


async def _closed_after(pool: asyncpg.Pool, minute_ms: int, market: Market = MARKET) -> bool:
    rows = await stored(pool, True, market)
    return bool(rows) and open_ms(rows[-1]) > minute_ms + MINUTE_MS


def published(heard: list[dict[str, Any]], after: int = 0) -> list[Any]:
    return [market_messages.book_from(m) for m in heard[after:]]


@pytest.mark.parametrize("market", [MARKET, SWAP_MARKET], ids=str)
async def test_books_are_published_20_deep_and_a_gap_is_resynced_without_a_bad_book(
    clean_db: asyncpg.Pool, redis: Redis, redis_url: str, market: Market
) -> None:
    """A swap's book counts contracts on OKX; it is published and stored in base currency."""
    # At real speed most updates change a few sizes (the book is redrawn once a second): a
    # missed one leaves the local book wrong without crossing it, which only the sequence
    # rule catches.
    async with (
        books_heard(redis_url, market) as heard,
        live(clean_db, redis, (OkxFeed.BOOKS,), speed=1.0, market=market) as state,
    ):
        state.sim.venues.okx.book.set(checksum=True)  # the local book verifies CRC32 too
        stream = state.streams[OkxFeed.BOOKS]
        await eventually(lambda: len(heard) >= 10)
        assert stream.resyncs == 0
        state.sim.venues.okx.book.set(skip_next=1)
        await eventually(lambda: stream.resyncs >= 1)
        resynced_at = len(heard)
        await eventually(lambda: len(heard) >= resynced_at + 10)
        await asyncio.sleep(0.5)  # a second gap would show as a second resync
        assert stream.resyncs == 1
        assert stream.malformed == 0
        books = published(heard)
        assert all(len(b.bids) == 20 and len(b.asks) == 20 for b in books)
        # Every book published, before and after the gap, is the simulator's at its seqId.
        wrong = [b.last_update_id for b in books if state.truth.get(b.last_update_id) != (
            b.bids, b.asks)]  # fmt: skip
        assert wrong == []
        ids = [b.last_update_id for b in books]
        assert len(set(ids[resynced_at:])) >= 5  # it moved on after the new snapshot
        stored_books = await clean_db.fetch(
            "SELECT * FROM orderbook_data WHERE venue = $1 AND symbol = $2",
            market.venue.key,
            market.symbol,
        )
    assert stored_books
    for row in stored_books:  # stored as published: the simulator's at that seqId
        bids = tuple(zip(row["bid_prices"], row["bid_quantities"], strict=True))
        asks = tuple(zip(row["ask_prices"], row["ask_quantities"], strict=True))
        assert state.truth.get(row["last_update_id"]) == (bids, asks)


async def test_a_dropped_connection_reconnects_and_rest_fills_the_missed_minutes(
    clean_db: asyncpg.Pool, redis: Redis
) -> None:
    async with live(clean_db, redis, (OkxFeed.CANDLES,)) as state:
        stream = state.streams[OkxFeed.CANDLES]
        await eventually(lambda: stored(clean_db, True))
        await eventually(lambda: stream.connections >= 1)
        before = open_ms((await stored(clean_db, True))[-1])
        state.sim.faults.set(refuse_ws_seconds=6.0)  # 3 simulated minutes away
        assert await state.sim.drop_connections() >= 1
        await eventually(lambda: stream.connections >= 2, within=30)
        await eventually(lambda: _closed_after(clean_db, before + 3 * MINUTE_MS), within=20)
    minutes = [open_ms(r) for r in await stored(clean_db, True)]
    assert contiguous(minutes)
    assert before + 4 * MINUTE_MS in minutes
