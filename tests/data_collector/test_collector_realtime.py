"""Real time against the simulator: stream, REST catch-up, polling, books and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from collector_helpers import (
    FAST,
    MINUTE_MS,
    HarnessFactory,
    SimFactory,
    closed_minutes,
    closed_past,
    redis_messages,
    spot,
    stored_equals_source,
)
from redis.asyncio import Redis

from data_collector import book_store
from data_collector.publisher import Publisher
from devstack.ports import free_port, wait_listening
from devstack.redis import server_command
from linkora_core.books import Book
from tests.polling import eventually


@contextlib.asynccontextmanager
async def listening(redis_url: str, *channels: str) -> AsyncIterator[list[dict[str, Any]]]:
    """Collect messages published on `channels` while the block runs."""
    received: list[dict[str, Any]] = []

    def heard(channel: str, data: bytes) -> None:
        received.append({"channel": channel, **orjson.loads(data)})

    async with redis_messages(redis_url, list(channels), heard):
        yield received


async def test_stream_updates_the_open_minute_then_closes_it(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool, redis_url: str
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim)
    async with listening(redis_url, "candles:BTCUSDT") as received:
        harness.start()
        await harness.wait_backfilled()

        def open_then_closed() -> int | None:
            seen: dict[int, list[dict[str, Any]]] = {}
            for m in received:
                seen.setdefault(m["timestamp"], []).append(m)
            for minute, updates in seen.items():
                opens = [u for u in updates if not u["closed"]]
                if len({u["volume"] for u in opens}) >= 2 and updates[-1]["closed"]:
                    return minute
            return None

        async def seen() -> bool:
            return open_then_closed() is not None

        await eventually(seen, within=30)
    minute = open_then_closed()
    assert minute is not None

    async def stored_closed() -> bool:
        return bool(
            await clean_db.fetchval(
                """SELECT is_closed FROM candles WHERE symbol = 'BTCUSDT'
               AND open_time = to_timestamp($1::bigint / 1000)""",
                minute,
            )
        )

    await eventually(stored_closed)
    final = sim.source.klines("BTCUSDT", minute, minute)[0]
    row = await clean_db.fetchrow(
        """SELECT * FROM candles WHERE symbol = 'BTCUSDT'
           AND open_time = to_timestamp($1::bigint / 1000)""",
        minute,
    )
    assert row is not None
    assert (row["high_price"], row["volume"], row["trades"]) == (
        Decimal(final[2]),
        Decimal(final[5]),
        final[8],
    )
    closed = [m for m in received if m["timestamp"] == minute and m["closed"]][-1]
    assert closed["close"] == str(Decimal(final[4]).normalize()) or Decimal(
        closed["close"]
    ) == Decimal(final[4])
    assert "E" not in "".join(str(v) for v in closed.values())
    # Time order on the channel: a minute's messages never follow a later minute's.
    stamps = [m["timestamp"] for m in received]
    assert stamps == sorted(stamps)


async def test_dropped_stream_is_gap_filled_from_rest(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), **FAST)
    harness = make_collector(sim)
    stream = await harness.streaming()
    before = (await closed_minutes(clean_db, "BTCUSDT"))[-1]
    # Cut the socket and refuse reconnects for ~3 simulated minutes.
    sim.faults.set(refuse_ws_seconds=6.0)
    await sim.drop_connections()
    await eventually(lambda: stream.connections >= 2, within=40)
    await eventually(lambda: closed_past(clean_db, "BTCUSDT", before + 5 * MINUTE_MS), within=30)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        minutes = await closed_minutes(clean_db, symbol)
        assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(minutes)), symbol
        await stored_equals_source(clean_db, sim, symbol)


async def test_server_shutdown_event_makes_the_collector_reconnect(
    make_sim: SimFactory, make_collector: HarnessFactory
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim)
    stream = await harness.streaming()
    await sim.announce_shutdown()
    await eventually(lambda: stream.connections >= 2)


async def test_books_are_published_on_every_snapshot_and_stored_at_the_set_rate(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool, redis_url: str
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim, orderbook_levels=5, orderbook_store_interval=1.0)
    async with listening(redis_url, "orderbook:BTCUSDT", "orderbook:all") as received:
        harness.start()
        await harness.wait_backfilled()
        await asyncio.sleep(3.5)
    books = [m for m in received if m["channel"] == "orderbook:BTCUSDT"]
    assert len(books) >= 10  # a snapshot every 0.2 s
    assert len([m for m in received if m["channel"] == "orderbook:all"]) == len(books)
    assert set(books[0]) == {"channel", "symbol", "timestamp", "last_update_id", "bids", "asks"}
    assert len(books[0]["bids"]) == 5 and set(books[0]["bids"][0]) == {"price", "quantity"}
    stored = await clean_db.fetch(
        "SELECT captured_at, cardinality(bid_prices) AS n FROM orderbook_data ORDER BY 1"
    )
    assert 2 <= len(stored) <= 5
    assert all(r["n"] == 5 for r in stored)
    gaps = [
        (b["captured_at"] - a["captured_at"]).total_seconds() for a, b in itertools.pairwise(stored)
    ]
    assert all(g >= 0.99 for g in gaps)


async def test_polling_mode_corrects_the_open_minute_until_it_closes(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim, realtime_mode="rest", realtime_interval=0.3)
    harness.start()
    await harness.wait_backfilled()
    start = (await closed_minutes(clean_db, "BTCUSDT"))[-1]

    async def advanced() -> bool:
        return (await closed_minutes(clean_db, "BTCUSDT"))[-1] >= start + 3 * MINUTE_MS

    await eventually(advanced, within=30)
    minutes = await closed_minutes(clean_db, "BTCUSDT")
    assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(minutes))
    await stored_equals_source(clean_db, sim, "BTCUSDT")
    assert await clean_db.fetchval("SELECT count(*) FROM orderbook_data") > 0


@pytest.fixture
def own_redis() -> Iterator[tuple[int, Path]]:
    """A port for a Redis this test starts and stops itself."""
    work = Path(tempfile.mkdtemp(prefix="linkora-collector-redis-"))
    try:
        yield free_port(), work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def start_redis(port: int, work: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        server_command(port, work), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    if not wait_listening(port, 20):
        process.kill()
        raise RuntimeError("redis did not start")
    return process


async def test_redis_down_storage_continues_and_publishing_resumes(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    own_redis: tuple[int, Path],
) -> None:
    port, work = own_redis
    server = start_redis(port, work)
    client = Redis.from_url(
        f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1, socket_timeout=2
    )
    try:
        sim = await make_sim(symbols=("BTCUSDT",), **FAST)
        harness = make_collector(sim)
        harness.publisher = harness.collector.publisher = type(harness.publisher)(client)
        harness.start()
        await harness.wait_backfilled()
        await eventually(lambda: harness.publisher.published > 0)
        server.kill()
        server.wait()
        down_at = (await closed_minutes(clean_db, "BTCUSDT"))[-1]

        async def stored_more() -> bool:
            return (await closed_minutes(clean_db, "BTCUSDT"))[-1] >= down_at + 2 * MINUTE_MS

        await eventually(stored_more, within=30)
        assert not redis_up(harness.publisher)
        server = start_redis(port, work)
        url = f"redis://127.0.0.1:{port}/0"
        async with listening(url, "candles:all") as received:
            await eventually(lambda: len(received) > 0, within=20)
        assert redis_up(harness.publisher)
        await harness.close()
    finally:
        await client.aclose()
        server.kill()
        server.wait()


def redis_up(publisher: Publisher) -> bool:
    return publisher.redis_up


async def test_database_connections_cut_during_real_time_then_the_gap_is_filled(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool, pg_dsn: str
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim)
    harness.start()
    await harness.wait_backfilled()
    before = (await closed_minutes(clean_db, "BTCUSDT"))[-1]
    admin = await asyncpg.connect(pg_dsn)
    try:
        # Like a server restart: every other session of this database is terminated, over
        # and over, for about three simulated minutes.
        for _ in range(30):
            await admin.execute(
                """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                   WHERE datname = current_database() AND pid <> pg_backend_pid()"""
            )
            await asyncio.sleep(0.2)
    finally:
        await admin.close()

    await eventually(lambda: closed_past(clean_db, "BTCUSDT", before + 4 * MINUTE_MS), within=60)
    minutes = await closed_minutes(clean_db, "BTCUSDT")
    assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(minutes))
    await stored_equals_source(clean_db, sim, "BTCUSDT")


async def test_connection_is_renewed_before_its_maximum_age(
    make_sim: SimFactory, make_collector: HarnessFactory
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim, ws_max_age=1.0)
    stream = await harness.streaming()
    await eventually(lambda: stream.connections >= 3, within=15)


async def test_old_order_books_are_removed_by_retention(clean_db: asyncpg.Pool) -> None:
    now_ms = int(time.time() * 1000)
    books = [
        Book(spot("BTCUSDT"), now_ms - age * 1000, 1, ((Decimal("1"), Decimal("2")),), ())
        for age in (7200, 10)
    ]
    await book_store.insert_books(clean_db, books)
    assert await book_store.delete_older_than(clean_db, 3600) == 1
    assert await clean_db.fetchval("SELECT count(*) FROM orderbook_data") == 1


async def test_server_pings_are_answered_so_the_connection_stays_up(
    make_sim: SimFactory, make_collector: HarnessFactory
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), ping_interval=0.3, **FAST)
    harness = make_collector(sim)
    stream = await harness.streaming()
    await asyncio.sleep(3.0)  # ten ping intervals: an unanswered ping would cut the socket
    assert stream.connections == 1
    assert sim.stats.ws_connections == 1
