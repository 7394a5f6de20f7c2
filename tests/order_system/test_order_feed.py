"""The order feed behind /ws/orders on a real PostgreSQL: released `orders.*` outbox rows in id
order, filtered by user in any case; held rows only once released; other topics never; a
database restart loses nothing; a slow subscriber is cut off alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import orjson
import pytest

from devstack.postgres import PostgresServer
from linkora_core import outbox
from linkora_core.migrations import apply_migrations
from order_system.api.order_feed import OrderFeed, Subscriber
from tests.polling import eventually

ALICE = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _message(
    n: int, user: str, *, held: bool = False, key: str = "orders.created"
) -> outbox.Message:
    body = orjson.dumps({"message_id": f"order:1:0x{n:064x}:0", "user_address": user}).decode()
    return outbox.Message(f"order:1:0x{n:064x}:0", key, body, held, n)


async def _add(dsn: str, messages: Sequence[outbox.Message]) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await outbox.add(connection, messages)
    finally:
        await connection.close()


def _drain(subscriber: Subscriber) -> list[tuple[str, str]]:
    frames = []
    while not subscriber.queue.empty():
        frame = orjson.loads(subscriber.queue.get_nowait())
        frames.append((frame["type"], frame["data"]["message_id"]))
    return frames


@pytest.fixture
async def running() -> AsyncIterator[list[tuple[OrderFeed, asyncio.Event]]]:
    """Feeds started by the test, stopped after it."""
    feeds: list[tuple[OrderFeed, asyncio.Event]] = []
    yield feeds
    for _, stop in feeds:
        stop.set()


async def _start(
    dsn: str, running: list[tuple[OrderFeed, asyncio.Event]], **options: int
) -> OrderFeed:
    feed, stop = OrderFeed(dsn, poll_interval=0.2, **options), asyncio.Event()
    running.append((feed, stop))
    task = asyncio.create_task(feed.run(stop))
    await asyncio.wait_for(feed.ready.wait(), 10)
    assert not task.done()
    return feed


async def test_released_order_rows_reach_their_followers_in_order(
    clean_db: asyncpg.Pool, pg_dsn: str, running: list[tuple[OrderFeed, asyncio.Event]]
) -> None:
    await _add(pg_dsn, [_message(1, ALICE)])  # before the feed: not replayed
    feed = await _start(pg_dsn, running)
    everyone, alice = feed.subscribe(None), feed.subscribe(ALICE.lower())
    await _add(pg_dsn, [_message(2, ALICE), _message(3, BOB), _message(4, ALICE, held=True)])
    await _add(pg_dsn, [_message(5, BOB, key="crypto.kline.updated.binance.spot.BTCUSDT.1")])
    ids = [f"order:1:0x{n:064x}:0" for n in range(7)]

    await eventually(lambda: everyone.queue.qsize() >= 2, within=5)
    assert _drain(everyone) == [("orders.created", ids[2]), ("orders.created", ids[3])]
    assert _drain(alice) == [("orders.created", ids[2])]
    async with clean_db.acquire() as connection:  # a release, as the processor's
        await connection.execute("UPDATE outbox SET held = false WHERE held")
    await _add(pg_dsn, [_message(6, ALICE, key="orders.retracted")])

    await eventually(lambda: everyone.queue.qsize() >= 2, within=5)
    expected = [("orders.created", ids[4]), ("orders.retracted", ids[6])]
    assert _drain(everyone) == expected
    assert _drain(alice) == expected


async def test_a_database_restart_loses_nothing(
    restartable_postgres: PostgresServer, running: list[tuple[OrderFeed, asyncio.Event]]
) -> None:
    dsn = restartable_postgres.dsn
    connection = await asyncpg.connect(dsn)
    try:
        await apply_migrations(connection)
    finally:
        await connection.close()
    feed = await _start(dsn, running)
    follower = feed.subscribe(BOB)
    await _add(dsn, [_message(1, BOB)])
    await eventually(lambda: follower.queue.qsize() == 1, within=5)
    restartable_postgres.stop()
    await asyncio.sleep(0.5)  # let the feed meet the outage
    restartable_postgres.start()
    await _add(dsn, [_message(2, BOB), _message(3, BOB)])
    await eventually(lambda: follower.queue.qsize() == 3, within=30)
    assert [m for _, m in _drain(follower)] == [f"order:1:0x{n:064x}:0" for n in (1, 2, 3)]


async def test_a_subscriber_that_falls_behind_is_cut_off_alone(
    clean_db: asyncpg.Pool, pg_dsn: str, running: list[tuple[OrderFeed, asyncio.Event]]
) -> None:
    feed = await _start(pg_dsn, running, queue_limit=2)
    slow, quick = feed.subscribe(None), feed.subscribe(None)
    await _add(pg_dsn, [_message(1, ALICE), _message(2, ALICE)])
    await eventually(lambda: quick.queue.qsize() == 2, within=5)
    _drain(quick)  # the quick one reads; the slow one is at its limit
    await _add(pg_dsn, [_message(3, ALICE)])
    await eventually(lambda: quick.queue.qsize() == 1, within=5)
    assert slow.overflowed.is_set() and slow.queue.qsize() == 2
    assert not quick.overflowed.is_set()
