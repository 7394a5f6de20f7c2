"""What a new candle or book subscription of one market is sent before the live stream: for a
resume (`since`), the closed candles missed since then, replayed from the database in order
and followed by a `replayed` summary; then the current open bucket, or the current book.

The seam has no gap and no duplicate. Broadcasts to the client are held back from the moment
it subscribes (`Client.hold`); where closed time ends (`LiveFeed.closed_until`) is read at that
same moment, so every bucket closed before it is replayed and every later one is among the held
broadcasts. The database may lag the live feed (the collector publishes a minute before its
buffered write lands): the replay waits, bounded, until the minute the feed last saw closed is
stored as the feed saw it. Held messages the greeting already covered (a closed candle or an
open update of a bucket at or before the last one replayed, a book older than the one sent)
are dropped, the rest go out in order.

A subscription to a venue's `all` symbols is greeted with nothing and cannot resume."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
import orjson

from api_server import orderbook_store, ws_replay
from api_server.live_feed import LiveFeed
from api_server.wire import market_fields
from api_server.ws_hub import ALL, TRY_AGAIN_LATER, Client, Message, Topic
from api_server.ws_sequence import Mark, book_text, candle_text, mark_of
from linkora_core import db
from linkora_core.candles import Candle
from linkora_core.markets import Market
from linkora_core.timeframes import MINUTE_MS, Timeframe

log = logging.getLogger(__name__)

# How long a resume waits for the collector's writes to catch up with the live feed.
STORED_WAIT = 10.0
# The most levels a book read from the database (none seen live yet) is sent with.
BOOK_LEVELS = 1000
UNAVAILABLE = "Resume unavailable: the database is behind or away; try again later"


class _Behind(Exception):
    """The database did not catch up with the live feed within the wait."""


def greets(topic: Topic) -> bool:
    """Whether a subscription to `topic` is greeted (one market's candles or book)."""
    return (
        topic.kind in ("candles", "orderbook") and topic.symbol != ALL and topic.venue is not None
    )


def start(
    client: Client, feed: LiveFeed, topic: Topic, since: int | None, tasks: set[asyncio.Task[None]]
) -> None:
    """Hold the client's broadcasts and greet it in a task (kept in `tasks` while it runs).
    Call right before subscribing it, in the same step."""
    client.hold()
    task = asyncio.create_task(_greet(client, feed, topic, since))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _greet(client: Client, feed: LiveFeed, topic: Topic, since: int | None) -> None:
    assert topic.venue is not None  # greets(topic)
    market = Market(topic.venue, topic.symbol)
    covered: Callable[[Message], bool] | None = None
    try:
        if topic.kind == "orderbook":
            covered = await _book(client, feed, market)
        else:
            covered = await _candles(client, feed, market, Timeframe(topic.timeframe), since)
    # TimeoutError: no free connection within DB_ACQUIRE_TIMEOUT (a storm of resumes: each is
    # told to try again). InterfaceError: the pool closed under a greeting (shutdown).
    except (
        _Behind,
        TimeoutError,
        *db.DATABASE_DOWN,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    ) as problem:
        log.warning("greeting %s %s failed: %r", topic.kind, market, problem)
        if since is not None:
            client.close_soon(TRY_AGAIN_LATER, UNAVAILABLE)
    finally:
        client.release(covered)


async def _candles(
    client: Client, feed: LiveFeed, market: Market, timeframe: Timeframe, since: int | None
) -> Callable[[Message], bool] | None:
    # Read before any await: the held broadcasts start exactly here.
    until = feed.closed_until(market)
    closed = feed.closed_minute(market)
    newest = feed.newest_minute(market)
    current = feed.open_bucket(market, timeframe)
    last: int | None = None
    if since is not None:
        until = await _closed_stored(feed, market, until, closed)
        replay = ws_replay.Replay([])
        if until is not None:
            async with feed.pool.acquire() as connection:
                replay = await ws_replay.closed_since(
                    connection, market, timeframe, since, until, ws_replay.MAX_REPLAY
                )
        for candle in replay.candles:
            client.offer(Message.of(candle_text(market, candle, closed=True)))
        last = replay.candles[-1].open_time_ms if replay.candles else since
        client.offer(_replayed(market, timeframe, since, replay))
    if current is None and newest is not None:
        async with feed.pool.acquire() as connection:
            current = await ws_replay.open_bucket(connection, market, timeframe, newest)
    if (
        current is not None
        and _open(current, until)
        and (last is None or current.open_time_ms > last)
    ):
        client.offer(Message.of(candle_text(market, current, closed=False)))
    if last is None:
        return None
    covered_until = last
    return lambda message: _covers(mark_of(message.text), market, timeframe.value, covered_until)


async def _closed_stored(
    feed: LiveFeed, market: Market, until: int | None, closed: Candle | None
) -> int | None:
    """Where the replay ends: the live feed's end of closed time, waited for in the database
    (what the feed announces after it comes live, so nothing is sent twice). The stored
    minutes' end instead when the feed saw no minute of the market since it started, or is
    more than a minute behind the database (it missed minutes, as in a Redis outage, and
    will never announce them)."""
    stored = await ws_replay.stored_until(feed.pool, market)
    if until is None or (stored is not None and stored > until + MINUTE_MS):
        return stored
    # A connection per poll: the wait holds none.
    if not await ws_replay.caught_up(feed.pool, market, until, closed, STORED_WAIT):
        raise _Behind(f"minutes before {until} not stored within {STORED_WAIT:g} s")
    return until


def _open(candle: Candle, until: int | None) -> bool:
    return until is None or candle.timeframe.next_start(candle.open_time_ms) > until


def _covers(mark: Mark | None, market: Market, timeframe: str, last: int) -> bool:
    return (
        mark is not None
        and mark.stream == "candles"
        and mark.market == market
        and mark.timeframe == timeframe
        and mark.seq <= last
    )


def _replayed(
    market: Market, timeframe: Timeframe, since: int, replay: ws_replay.Replay
) -> Message:
    candles = replay.candles
    summary = {
        "type": "replayed",
        **market_fields(market),
        "symbol": market.symbol,
        "timeframe": timeframe.value,
        "since": since,
        "count": len(candles),
        "first": candles[0].open_time_ms if candles else None,
        "last": candles[-1].open_time_ms if candles else None,
        "truncated": replay.truncated,
    }
    return Message.of(orjson.dumps(summary).decode())


async def _book(client: Client, feed: LiveFeed, market: Market) -> Callable[[Message], bool] | None:
    text = feed.book(market)
    if text is None:
        async with feed.pool.acquire() as connection:
            stored = await orderbook_store.latest_book(connection, market, BOOK_LEVELS)
        if stored is None:
            return None
        text = book_text(orjson.dumps(stored), stored)
    client.offer(Message.of(text))
    mark = mark_of(text)
    if mark is None:
        return None
    sent = mark.seq

    def older(message: Message) -> bool:
        held = mark_of(message.text)
        return (
            held is not None
            and held.stream == "orderbook"
            and held.market == market
            and held.seq < sent
        )

    return older
