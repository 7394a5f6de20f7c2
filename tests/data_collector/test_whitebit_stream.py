"""A VenueStream with the WhiteBIT protocol against the simulator's /ws, with the collector's
real LiveStore, Publisher and CollectorStatus on the suite's PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import aiohttp
import asyncpg
import orjson
import pytest
from collector_helpers import MINUTE_MS, SimFactory
from redis.asyncio import Redis

from data_collector.catch_up import catch_up
from data_collector.live_store import LiveStore
from data_collector.publisher import Publisher
from data_collector.status import CollectorStatus
from data_collector.venue_stream import VenueStream
from data_collector.whitebit_payloads import WHITEBIT_SPOT
from data_collector.whitebit_protocol import WhitebitProtocol
from data_collector.whitebit_rest import WhitebitRest
from exchange_sim.server import SimServer
from linkora_core.bus import orderbook_channels
from linkora_core.markets import Market
from tests.polling import eventually

BTC = Market(WHITEBIT_SPOT, "BTC_USDT")
UNIT = Decimal(10) ** 8
Side = list[tuple[Decimal, Decimal]]


@dataclass(eq=False)
class Running:
    sim: SimServer
    stream: VenueStream
    store: LiveStore
    books: dict[int, tuple[Side, Side]] = field(default_factory=dict)  # published, by id
    truth: dict[int, tuple[Side, Side]] = field(default_factory=dict)  # the server's, by id

    def server_book(self) -> None:
        """Record the book the simulator holds for our connection (what we must publish)."""
        for conn in self.sim.venues.whitebit.hub.connections:
            depth = conn.depth.get("BTC_USDT")
            if depth is not None and depth.book.started:
                book = depth.book
                # The subscription is 100 deep; the top 20 are published.
                bids = [(Decimal(p) / UNIT, Decimal(q) / UNIT) for p, q in book.sorted_bids()]
                asks = [(Decimal(p) / UNIT, Decimal(q) / UNIT) for p, q in book.sorted_asks()]
                bids, asks = bids[:20], asks[:20]
                self.truth.setdefault(book.update_id, (bids, asks))


@pytest.fixture
async def running(
    make_sim: SimFactory, clean_db: asyncpg.Pool, redis: Redis, redis_url: str
) -> AsyncIterator[Running]:
    sim = await make_sim(symbols=("BTCUSDT",), clock_speed=30.0)
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        rest = WhitebitRest(session, sim.rest_url)
        store, publisher, status = (
            LiveStore(clean_db, store_interval=0),
            Publisher(redis),
            (CollectorStatus()),
        )
        start_ms = (sim.clock.now_ms() // MINUTE_MS - 3) * MINUTE_MS

        async def fill(market: Market) -> int:
            return await catch_up(rest, clean_db, store, publisher, status.of(market), start_ms)

        protocol = WhitebitProtocol(sim.stream_url + "/whitebit")
        stream = VenueStream(session, protocol, [BTC], store, publisher, status, fill)
        run = Running(sim, stream, store)
        listener = Redis.from_url(redis_url)
        pubsub = listener.pubsub()
        await pubsub.subscribe(orderbook_channels(BTC)[1])

        async def listen() -> None:
            async for message in pubsub.listen():
                if message["type"] != "message":
                    continue
                book = orjson.loads(message["data"])
                run.books[book["last_update_id"]] = (
                    [(Decimal(b["price"]), Decimal(b["quantity"])) for b in book["bids"]],
                    [(Decimal(a["price"]), Decimal(a["quantity"])) for a in book["asks"]],
                )

        async def watch() -> None:
            while True:
                run.server_book()
                await asyncio.sleep(0.005)

        tasks = [
            asyncio.create_task(stream.run(stop)),
            asyncio.create_task(store.run()),
            asyncio.create_task(publisher.run()),
            asyncio.create_task(listen()),
            asyncio.create_task(watch()),
        ]
        try:
            yield run
        finally:
            stop.set()
            for task in tasks[1:]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            await listener.aclose()


def check_books(run: Running) -> int:
    """Every published book has 20 sorted levels a side and, where the server's book of the
    same id was seen, equals it; the number of books compared."""
    compared = 0
    for uid, (bids, asks) in run.books.items():
        assert len(bids) == len(asks) == 20
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert bids[0][0] < asks[0][0]
        if uid in run.truth:
            assert (bids, asks) == run.truth[uid], f"book {uid} differs from the server's"
            compared += 1
    return compared


async def test_live_candles_are_stored_with_whitebits_closing_and_no_trade_count(
    running: Running, clean_db: asyncpg.Pool
) -> None:
    async def closed_and_open() -> bool:
        rows = await clean_db.fetch("SELECT is_closed FROM candles WHERE venue = 'whitebit-spot'")
        return {r["is_closed"] for r in rows} == {True, False}

    await eventually(closed_and_open, within=20)
    rows = await clean_db.fetch(
        "SELECT * FROM candles WHERE venue = 'whitebit-spot' AND is_closed ORDER BY open_time"
    )
    assert {r["symbol"] for r in rows} == {"BTC_USDT"}
    assert all(r["trades"] is None for r in rows)
    assert all(r["taker_buy_volume"] is None and r["taker_buy_quote_volume"] is None for r in rows)
    # The closed minute holds its final state: the simulator's kline of that minute.
    last = rows[-1]
    open_ms = int(last["open_time"].timestamp()) * 1000
    (want,) = running.sim.source.klines("BTCUSDT", open_ms, open_ms)
    columns = ("open_price", "high_price", "low_price", "close_price", "volume")
    assert [last[c] for c in columns] == [Decimal(v) for v in want[1:6]]
    assert last["quote_volume"] == Decimal(want[7])
    assert running.stream.connections == 1


async def test_books_are_published_whole_and_resync_after_an_injected_gap(
    running: Running,
) -> None:
    stream = running.stream
    await eventually(lambda: check_books(running) >= 5, within=15)
    assert stream.resyncs == 0
    running.sim.venues.whitebit.faults.set(skip_delta_next=1)
    await eventually(lambda: stream.resyncs == 1, within=10)
    after = max(running.books)
    await eventually(lambda: sum(1 for uid in running.books if uid > after) >= 5, within=10)
    compared = check_books(running)  # none published out of sync, all equal the server's
    assert compared >= 10
    assert stream.resyncs == 1 and stream.connections == 1 and stream.malformed == 0
    assert running.sim.venues.whitebit.hub.deltas_skipped == 1


async def test_a_dropped_connection_reconnects_and_the_gap_fill_stores_the_missed_minutes(
    running: Running, clean_db: asyncpg.Pool
) -> None:
    sim, stream = running.sim, running.stream

    async def stored() -> list[int]:
        rows = await clean_db.fetch(
            "SELECT open_time FROM candles WHERE venue = 'whitebit-spot' AND is_closed"
        )
        return sorted(int(r["open_time"].timestamp()) * 1000 for r in rows)

    async def some_closed() -> bool:
        return bool(await stored())

    await eventually(some_closed, within=20)
    sim.faults.set(refuse_ws_seconds=8.0)  # 4 simulated minutes without a socket
    await sim.venues.whitebit.drop_connections()
    await eventually(lambda: stream.connections >= 2, within=30)
    now_minute = sim.clock.now_ms() // MINUTE_MS * MINUTE_MS

    async def filled() -> bool:
        minutes = await stored()
        return bool(minutes) and minutes[-1] >= now_minute - MINUTE_MS

    await eventually(filled, within=15)
    minutes = await stored()
    assert minutes == list(range(minutes[0], minutes[-1] + MINUTE_MS, MINUTE_MS))
    assert len(minutes) >= 5  # the minutes of the 8 s without a socket are among them
    nulls = await clean_db.fetchval(
        "SELECT count(*) FROM candles WHERE venue = 'whitebit-spot' AND trades IS NULL"
        " AND taker_buy_volume IS NULL AND taker_buy_quote_volume IS NULL"
    )
    assert nulls == await clean_db.fetchval(
        "SELECT count(*) FROM candles WHERE venue = 'whitebit-spot'"
    )


def test_one_market_per_connection() -> None:
    protocol = WhitebitProtocol("ws://example")
    url, messages = protocol.connect([BTC])
    assert url == "ws://example/ws"
    assert [orjson.loads(m) for m in messages] == [
        {"id": 1, "method": "candles_subscribe", "params": ["BTC_USDT", 60]},
        {"id": 2, "method": "depth_subscribe", "params": ["BTC_USDT", 100, "0", True]},
    ]
    assert [orjson.loads(m)["method"] for m in protocol.resubscribe(BTC)] == [
        "depth_unsubscribe", "depth_subscribe",
    ]  # fmt: skip
    assert protocol.heartbeat == (50.0, '{"id":0,"method":"ping","params":[]}')
    with pytest.raises(ValueError):
        protocol.connect([BTC, Market(WHITEBIT_SPOT, "ETH_USDT")])
