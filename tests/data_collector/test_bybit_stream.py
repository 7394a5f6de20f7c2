"""A VenueStream running the Bybit protocol against the simulator's /v5/public/spot, with the
collector's real LiveStore (PostgreSQL), Publisher (Redis) and status: candles stored with
Bybit's closed flag and NULL trades, 20-level books, a skipped `u` resynced without an
out-of-sync book published, and the REST gap fill after a lost connection."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from collector_helpers import MINUTE_MS, SimFactory
from redis.asyncio import Redis

from data_collector import catch_up
from data_collector.bybit_protocol import BybitProtocol, book_topic, make_protocol
from data_collector.bybit_rest import BYBIT_SPOT, BybitRest
from data_collector.live_store import LiveStore
from data_collector.publisher import Publisher
from data_collector.settings import CollectorSettings
from data_collector.status import CollectorStatus
from data_collector.venue_stream import VenueStream, WireProtocol
from exchange_sim.bybit.payloads import plain
from exchange_sim.server import SimServer
from linkora_core.bus import orderbook_channels
from linkora_core.markets import Market
from tests.polling import eventually

BTC = Market(BYBIT_SPOT, "BTCUSDT")
FAST = {"clock_speed": 30.0, "kline_push_interval": 0.2, "bybit_book_push_interval": 0.1}


@dataclass(eq=False)
class Running:
    sim: SimServer
    stream: VenueStream
    pool: asyncpg.Pool
    books: list[dict[str, Any]] = field(default_factory=list)  # as published, in order


@pytest.fixture
async def running(
    make_sim: SimFactory, clean_db: asyncpg.Pool, redis: Redis, redis_url: str
) -> AsyncIterator[Running]:
    sim = await make_sim(**FAST)
    session = aiohttp.ClientSession()
    rest = BybitRest(BYBIT_SPOT, session, sim.rest_url)
    protocol: WireProtocol = BybitProtocol(BYBIT_SPOT, sim.stream_url)
    store, publisher, status = LiveStore(clean_db, 0.0), Publisher(redis), CollectorStatus()
    start_ms = (await rest.server_time()) // MINUTE_MS * MINUTE_MS - 3 * MINUTE_MS

    async def fill(market: Market) -> int:
        return await catch_up.catch_up(
            rest, clean_db, store, publisher, status.of(market), start_ms
        )

    stream = VenueStream(session, protocol, [BTC], store, publisher, status, fill)
    listener = Redis.from_url(redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(orderbook_channels(BTC)[1])
    state = Running(sim, stream, clean_db)

    async def listen() -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                state.books.append(orjson.loads(message["data"]))

    stop = asyncio.Event()
    tasks = [asyncio.create_task(t) for t in (store.run(), publisher.run(), listen())]
    tasks.append(asyncio.create_task(stream.run(stop)))
    try:
        yield state
    finally:
        stop.set()
        for task in tasks:
            await cancel(task)
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py lacks the hint
        await listener.aclose()
        await session.close()


async def cancel(task: asyncio.Task[None]) -> None:
    """Cancel until it ends: a cancel landing inside the publisher's Redis pipeline can come
    back as a connection error, which Publisher.run takes for Redis being down and retries."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def stored(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT venue, symbol, open_time, is_closed, trades, taker_buy_volume, close_price"
        " FROM candles ORDER BY open_time"
    )
    return rows


def sim_top(sim: SimServer, levels: int = 20) -> tuple[int, list[list[str]], list[list[str]]]:
    """The simulator's own book of the one connection's BTCUSDT feed: (u, bids, asks)."""
    (conn,) = sim.venues.bybit.hub.connections
    book = conn.feeds[book_topic("BTCUSDT")].book
    assert book is not None
    bids = sorted(book.bids.items(), reverse=True)[:levels]
    asks = sorted(book.asks.items())[:levels]
    return book.u, [[plain(p), plain(q)] for p, q in bids], [[plain(p), plain(q)] for p, q in asks]


def as_decimals(levels: list[list[str]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in levels]


async def published_as_sim(state: Running) -> bool:
    """Whether the book published at the simulator's current `u` equals its top 20."""
    u, bids, asks = sim_top(state.sim)
    published: dict[str, Any] | None
    try:
        published = await eventually(
            lambda: next((b for b in state.books if b["last_update_id"] == u), None), 5.0
        )
    except AssertionError:
        return False
    assert published is not None
    ours = [[(Decimal(x["price"]), Decimal(x["quantity"])) for x in published[side]]
            for side in ("bids", "asks")]  # fmt: skip
    return ours == [as_decimals(bids), as_decimals(asks)]


async def test_candles_stored_with_the_closed_flag_and_books_resynced_after_a_gap(
    running: Running,
) -> None:
    stream, pool = running.stream, running.pool
    rows = await eventually(
        lambda: _closed_and_open(pool), 20.0, what="a closed and an open Bybit minute"
    )
    assert {(r["venue"], r["symbol"]) for r in rows} == {("bybit-spot", "BTCUSDT")}
    assert all(r["trades"] is None and r["taker_buy_volume"] is None for r in rows)
    await eventually(lambda: len(running.books) >= 5)
    assert all(len(b["bids"]) == 20 and len(b["asks"]) == 20 for b in running.books)
    assert await published_as_sim(running)
    assert stream.resyncs == 0

    running.sim.venues.bybit.faults.set(skip_u_next=1)
    await eventually(lambda: stream.resyncs == 1, 10.0)
    seen = len(running.books)
    await eventually(lambda: len(running.books) >= seen + 10, 10.0)
    assert stream.resyncs == 1 and stream.malformed == 0
    # Published ids step by one, but once: the fresh snapshot after the resubscribe. The
    # delta after the skipped id was never applied, so no book with its id came before it.
    ids = [b["last_update_id"] for b in running.books]
    breaks = [i for i in range(1, len(ids)) if ids[i] != ids[i - 1] + 1]
    assert len(breaks) == 1
    assert ids[breaks[0]] != ids[breaks[0] - 1] + 2
    assert await published_as_sim(running)


async def _closed_and_open(pool: asyncpg.Pool) -> list[asyncpg.Record] | None:
    rows = await stored(pool)
    flags = {r["is_closed"] for r in rows}
    return rows if flags == {True, False} else None


async def test_a_lost_connection_reconnects_and_rest_fills_the_minutes_missed(
    running: Running,
) -> None:
    stream, pool, sim = running.stream, running.pool, running.sim
    await eventually(lambda: stream.connections == 1)
    await eventually(lambda: _closed_and_open(pool), 20.0)
    sim.faults.set(refuse_ws_seconds=4.0)  # two simulated minutes at 30x
    await sim.drop_connections()
    await eventually(lambda: stream.connections == 2, 30.0)
    missed_until = sim.clock.now_ms() // MINUTE_MS * MINUTE_MS - MINUTE_MS

    async def filled() -> bool:
        closed = [int(r["open_time"].timestamp()) * 1000 for r in await stored(pool)
                  if r["is_closed"]]  # fmt: skip
        return (
            bool(closed)
            and closed[-1] >= missed_until
            and all(b - a == MINUTE_MS for a, b in itertools.pairwise(closed))
        )

    await eventually(filled, 20.0, what="every minute stored, the missed ones included")
    rows = [r for r in await stored(pool) if r["is_closed"]]
    reference = sim.source.klines(
        "BTCUSDT",
        int(rows[0]["open_time"].timestamp()) * 1000,
        int(rows[-1]["open_time"].timestamp()) * 1000,
    )
    assert [r["close_price"] for r in rows] == [Decimal(str(ref[4])) for ref in reference]
    assert all(r["trades"] is None for r in rows)


async def test_make_protocol_subscribes_kline_1_and_orderbook_50_on_the_category_socket() -> None:
    settings = CollectorSettings(_env_file=None, bybit_stream_url="wss://stream.bybit.com/")  # type: ignore[call-arg]
    async with aiohttp.ClientSession() as session:
        protocol = make_protocol(settings, BybitRest(BYBIT_SPOT, session, "x"), BYBIT_SPOT)
    markets = [Market(BYBIT_SPOT, f"S{i}USDT") for i in range(6)]
    url, messages = protocol.connect(markets)
    assert url == "wss://stream.bybit.com/v5/public/spot"
    requests = [orjson.loads(m) for m in messages]
    assert [len(r["args"]) for r in requests] == [10, 2]  # spot takes 10 topics a request
    assert requests[0]["args"][:2] == ["kline.1.S0USDT", "orderbook.50.S0USDT"]
    assert protocol.heartbeat == (20.0, '{"op":"ping"}')
    assert [orjson.loads(m) for m in protocol.resubscribe(markets[0])] == [
        {"op": "unsubscribe", "args": ["orderbook.50.S0USDT"]},
        {"op": "subscribe", "args": ["orderbook.50.S0USDT"]},
    ]
