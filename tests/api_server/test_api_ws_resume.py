"""Resuming /ws candle streams (`since`) against a real uvicorn, PostgreSQL and Redis: the
closed candles missed are replayed from the database in order, with the bytes live closed
messages have, then the live stream with no gap and no duplicate at the seam (a candle that
closes while the replay is read included); the open bucket and the book are sent first; bad
parameters are refused; the replay is bounded and waits for the collector's writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest
from api_helpers import (
    ServerFactory,
    closed_with,
    collector_message,
    minute,
    receive,
    spot,
    store_minutes,
)
from redis.asyncio import Redis
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect

from api_server import ws_greeting, ws_replay
from api_server.ws_protocol import UVICORN_OPTIONS
from api_server.ws_sequence import candle_text
from linkora_core import bus
from linkora_core.candles import Candle
from linkora_core.markets import Market, venue
from linkora_core.timeframes import MINUTE_MS
from tests.polling import eventually

BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) * 1000
MARKET = spot("BTCUSDT")


def minutes(count: int, start: int = 0) -> list[Candle]:
    return [
        minute(BASE + i * MINUTE_MS, f"{100 + i}", f"{101 + i}.5", f"{99 + i}", f"{100 + i}.25")
        for i in range(start, start + count)
    ]


async def announce(app: Starlette, redis: Redis, series: list[Candle], *, closed: bool) -> None:
    """Publish minutes as the collector does and wait until the feed has taken the last."""
    feed = app.state.live_feed
    await eventually(lambda: feed.connected, 10, what="the live feed subscribed")
    for m in series:
        await redis.publish("candles:all", collector_message(MARKET, m, closed=closed))
    last = series[-1]
    await eventually(
        lambda: (
            feed.newest_minute(MARKET) == last
            and (not closed or feed.closed_until(MARKET) == last.close_time_ms + 1)
        ),
        10,
        what="the feed took the minutes",
    )


async def texts(ws: ClientConnection, count: int, within: float = 5.0) -> list[str]:
    """The next `count` messages that are not heartbeats, as received."""
    out: list[str] = []
    while len(out) < count:
        text = await asyncio.wait_for(ws.recv(), within)
        assert isinstance(text, str)
        if orjson.loads(text).get("type") != "heartbeat":
            out.append(text)
    return out


async def quiet(ws: ClientConnection, within: float = 0.4) -> list[dict[str, Any]]:
    """Whatever else arrives within `within` seconds (heartbeats left out)."""
    out: list[dict[str, Any]] = []
    try:
        while True:
            message = await receive(ws, within)
            out.append(message)
    except TimeoutError:
        return out


def closed_texts(series: list[Candle]) -> list[str]:
    return [candle_text(MARKET, c, closed=True) for c in series]


async def test_a_resume_replays_the_closed_candles_missed_then_the_live_stream(
    live_server: ServerFactory, clean_db: asyncpg.Pool, redis: Redis
) -> None:
    app, url = await live_server(ws_update_interval=0)
    series = minutes(10)
    await store_minutes(clean_db, MARKET, series)
    await announce(app, redis, series, closed=True)
    since = series[2].open_time_ms
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1&since={since}") as ws:
        replayed = await texts(ws, 8)
        assert replayed[:7] == closed_texts(series[3:])
        assert orjson.loads(replayed[7]) == {
            "type": "replayed",
            "symbol": "BTCUSDT",
            "timeframe": "1",
            "since": since,
            "count": 7,
            "first": series[3].open_time_ms,
            "last": series[9].open_time_ms,
            "truncated": False,
        }
        assert await quiet(ws) == []  # the newest minute is closed: no open bucket
        following = minutes(1, start=10)
        await store_minutes(clean_db, MARKET, following)
        await redis.publish("candles:all", collector_message(MARKET, following[0], closed=True))
        live = orjson.loads((await texts(ws, 1))[0])
        assert (live["timestamp"], live["seq"], live["closed"]) == (
            following[0].open_time_ms,
            following[0].open_time_ms,
            True,
        )


async def test_replayed_buckets_have_the_bytes_of_the_live_closed_messages(
    live_server: ServerFactory, clean_db: asyncpg.Pool, redis: Redis
) -> None:
    app, url = await live_server(ws_update_interval=0)
    series = minutes(16)
    await store_minutes(clean_db, MARKET, series[:1])
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=5") as follower:
        await eventually(lambda: app.state.live_feed.connected, 10)
        await follower.send('{"type":"ping"}')  # answered once the subscription is in the hub
        assert await receive(follower) == {"type": "pong"}
        live_closed: list[str] = []
        for m in series:
            await store_minutes(clean_db, MARKET, [m])
            await redis.publish("candles:all", collector_message(MARKET, m, closed=True))
        while len(live_closed) < 3:
            text = (await texts(follower, 1))[0]
            if orjson.loads(text).get("closed") is True:
                live_closed.append(text)
    since = BASE - 5 * MINUTE_MS
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=5&since={since}") as ws:
        replayed = await texts(ws, 5)
    assert replayed[:3] == live_closed
    assert orjson.loads(replayed[3])["count"] == 3
    assert orjson.loads(replayed[4]) | {"closed": False} == orjson.loads(replayed[4])
    assert orjson.loads(replayed[4])["timestamp"] == BASE + 15 * MINUTE_MS  # the open bucket


@pytest.mark.parametrize("protocol", ["frame-writer", "plain-asgi"])
async def test_a_candle_closing_while_the_replay_is_read_goes_out_once_after_it(
    live_server: ServerFactory, clean_db: asyncpg.Pool, pg_dsn: str, redis: Redis, protocol: str
) -> None:
    ws_protocol = UVICORN_OPTIONS["ws"] if protocol == "frame-writer" else "websockets-sansio"
    app, url = await live_server(ws_update_interval=0, ws=ws_protocol)
    series = minutes(6)
    await store_minutes(clean_db, MARKET, series)  # the sixth already stored, not yet announced
    await announce(app, redis, series[:5], closed=True)
    locker = await asyncpg.connect(pg_dsn)
    try:
        lock = locker.transaction()
        await lock.start()
        await locker.execute("LOCK TABLE candles IN ACCESS EXCLUSIVE MODE")
        since = series[0].open_time_ms
        async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1&since={since}") as ws:

            async def replay_waits() -> bool:
                waiting = await clean_db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query ILIKE '%FROM candles%ORDER BY open_time DESC%'"
                )
                return bool(waiting)

            await eventually(replay_waits, 10, what="the replay waiting on the lock")
            sixth = series[5]
            await redis.publish("candles:all", collector_message(MARKET, sixth, closed=False))
            await redis.publish("candles:all", collector_message(MARKET, sixth, closed=True))
            # A repeat of a minute the replay covers (a re-announcement) is not sent twice.
            await redis.publish("candles:all", collector_message(MARKET, series[4], closed=True))
            await eventually(
                lambda: app.state.live_feed.closed_until(MARKET) == sixth.open_time_ms + MINUTE_MS,
                10,
            )
            await lock.rollback()
            got = await texts(ws, 7)
            assert got[:4] == closed_texts(series[1:5])
            assert orjson.loads(got[4])["type"] == "replayed"
            assert got[5] == candle_text(MARKET, sixth, closed=False)
            assert got[6] == candle_text(MARKET, sixth, closed=True)
            assert await quiet(ws) == []
    finally:
        await locker.close()


async def test_a_resume_waits_for_the_collector_to_store_what_the_feed_saw_closed(
    live_server: ServerFactory, clean_db: asyncpg.Pool, redis: Redis
) -> None:
    app, url = await live_server(ws_update_interval=0)
    series = minutes(5)
    await store_minutes(clean_db, MARKET, series[:3])
    await store_minutes(clean_db, MARKET, series[3:4], open_from=series[3].open_time_ms)
    stale = minute(series[3].open_time_ms, "1", "1", "1", "1")  # an open version, stored
    await store_minutes(clean_db, MARKET, [stale], open_from=stale.open_time_ms)
    await announce(app, redis, series[:4], closed=True)
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1&since={BASE - MINUTE_MS}") as ws:
        assert await quiet(ws, 0.5) == []  # waiting: the fourth minute is stored open, older
        await store_minutes(clean_db, MARKET, series[3:4])
        got = await texts(ws, 5)
    assert got[:4] == closed_texts(series[:4])


async def test_a_resume_the_database_never_catches_up_with_is_told_to_try_again(
    live_server: ServerFactory,
    clean_db: asyncpg.Pool,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ws_greeting, "STORED_WAIT", 0.3)
    app, url = await live_server()
    series = minutes(3)
    await store_minutes(clean_db, MARKET, series[:2])
    await announce(app, redis, series, closed=True)
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1&since={BASE}") as ws:
        assert await closed_with(ws) == (1013, ws_greeting.UNAVAILABLE)


async def test_beyond_the_bound_the_newest_closed_candles_are_replayed_and_truncated_said(
    live_server: ServerFactory,
    clean_db: asyncpg.Pool,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ws_replay, "MAX_REPLAY", 3)
    app, url = await live_server()
    series = minutes(8)
    await store_minutes(clean_db, MARKET, series)
    await announce(app, redis, series, closed=True)
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1&since=0") as ws:
        got = await texts(ws, 4)
    assert got[:3] == closed_texts(series[5:])
    summary = orjson.loads(got[3])
    assert (summary["count"], summary["first"], summary["truncated"]) == (
        3,
        series[5].open_time_ms,
        True,
    )


async def test_a_subscription_gets_the_open_bucket_and_the_current_book_first(
    live_server: ServerFactory, clean_db: asyncpg.Pool, redis: Redis
) -> None:
    app, url = await live_server(ws_update_interval=0)
    series = minutes(7)
    await store_minutes(clean_db, MARKET, series[:6])
    await store_minutes(clean_db, MARKET, series[6:], open_from=series[6].open_time_ms)
    await announce(app, redis, series[:6], closed=True)
    await announce(app, redis, series[6:], closed=False)
    book = {"symbol": "BTCUSDT", "timestamp": BASE, "last_update_id": 42, "bids": [], "asks": []}
    await redis.publish("orderbook:all", orjson.dumps(book))
    await eventually(lambda: app.state.live_feed.book(MARKET) is not None, 10)
    async with (
        connect(f"{url}/ws?symbol=BTCUSDT&timeframe=5") as candles,
        connect(f"{url}/ws?symbol=BTCUSDT&type=orderbook") as books,
    ):
        first = orjson.loads((await texts(candles, 1))[0])
        assert (first["timestamp"], first["closed"], first["volume"]) == (
            BASE + 5 * MINUTE_MS,
            False,
            "2",
        )
        assert (await texts(books, 1))[0] == orjson.dumps(book).decode()[:-1] + ',"seq":42}'


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("symbol=BTCUSDT&since=soon", "Invalid since: soon (epoch milliseconds)"),
        ("symbol=BTCUSDT&since=-5", "Invalid since: -5 (epoch milliseconds)"),
        (
            "symbol=BTCUSDT&since=" + "9" * 17,
            "Invalid since: " + "9" * 17 + " (epoch milliseconds)",
        ),
        ("since=5", "Invalid since: only one market's candle stream resumes"),
        (
            "symbol=BTCUSDT&type=orderbook&since=5",
            "Invalid since: only one market's candle stream resumes",
        ),
    ],
)
async def test_a_bad_since_is_closed_with_1008_and_the_reason(
    live_server: ServerFactory, query: str, reason: str
) -> None:
    _, url = await live_server()
    async with connect(f"{url}/ws?{query}") as ws:
        assert await closed_with(ws) == (1008, reason)


async def test_a_subscribe_message_resumes_too_and_a_bad_since_is_an_error(
    live_server: ServerFactory, clean_db: asyncpg.Pool, redis: Redis
) -> None:
    app, url = await live_server()
    series = minutes(4)
    await store_minutes(clean_db, MARKET, series)
    await announce(app, redis, series, closed=True)
    async with connect(f"{url}/ws?type=orderbook&symbol=ETHUSDT") as ws:
        await ws.send('{"type":"subscribe","stream":"candles","symbol":"BTCUSDT","since":"1"}')
        assert await receive(ws) == {
            "type": "error",
            "error": "Invalid since: 1 (epoch milliseconds)",
        }
        request = {"type": "subscribe", "stream": "candles", "symbol": "BTCUSDT", "since": BASE}
        await ws.send(orjson.dumps(request))
        got = await texts(ws, 4)
        assert got[:3] == closed_texts(series[1:])
        assert orjson.loads(got[3])["count"] == 3


async def test_a_feed_that_missed_minutes_the_database_has_replays_up_to_the_stored_ones(
    live_server: ServerFactory, clean_db: asyncpg.Pool, redis: Redis
) -> None:
    app, url = await live_server()
    series = minutes(10)
    await announce(app, redis, series[:4], closed=True)
    # Minutes 4-9 stored but never seen by this feed (published while it was away from Redis).
    await store_minutes(clean_db, MARKET, series[:9])
    await store_minutes(clean_db, MARKET, series[9:], open_from=series[9].open_time_ms)
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1&since={BASE}") as ws:
        got = await texts(ws, 9)
    assert got[:8] == closed_texts(series[1:9])
    assert orjson.loads(got[8])["last"] == series[8].open_time_ms


async def test_a_book_subscription_before_any_live_book_gets_the_stored_one(
    live_server: ServerFactory, clean_db: asyncpg.Pool
) -> None:
    _, url = await live_server()
    await clean_db.execute(
        """INSERT INTO orderbook_data (venue, symbol, captured_at, last_update_id, bid_prices,
               bid_quantities, ask_prices, ask_quantities)
           VALUES ($1, $2, $3, 77, '{100.5,100}', '{1,2.5}', '{101}', '{0.25}')""",
        MARKET.venue.key,
        MARKET.symbol,
        datetime.fromtimestamp(BASE / 1000, UTC),
    )
    async with connect(f"{url}/ws?symbol=BTCUSDT&type=orderbook") as ws:
        assert await receive(ws) == {
            "symbol": "BTCUSDT",
            "timestamp": BASE,
            "last_update_id": 77,
            "bids": [{"price": "100.5", "quantity": "1"}, {"price": "100", "quantity": "2.5"}],
            "asks": [{"price": "101", "quantity": "0.25"}],
            "seq": 77,
        }


async def test_a_resume_finding_no_free_database_connection_is_told_to_try_again(
    live_server: ServerFactory, clean_db: asyncpg.Pool, redis: Redis
) -> None:
    app, url = await live_server(db_pool_min=1, db_pool_max=1, db_acquire_timeout=0.3)
    series = minutes(3)
    await store_minutes(clean_db, MARKET, series)
    await announce(app, redis, series, closed=True)
    resume = f"{url}/ws?symbol=BTCUSDT&timeframe=1&since={BASE}"
    # The pool's only connection held: the resume cannot read.
    async with app.state.pool.acquire(), connect(resume) as ws:
        assert await closed_with(ws) == (1013, ws_greeting.UNAVAILABLE)
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1&since={BASE}") as ws:
        assert (await texts(ws, 2)) == closed_texts(series[1:])


async def test_a_resume_on_another_venue_replays_that_venues_candles(
    live_server: ServerFactory, clean_db: asyncpg.Pool, redis: Redis
) -> None:
    app, url = await live_server()
    bybit = Market(venue("bybit", "linear"), "BTCUSDT")
    series = minutes(4)
    await store_minutes(clean_db, MARKET, series)  # Binance spot's, not replayed
    await store_minutes(clean_db, bybit, series[:3])
    for m in series[:3]:
        await redis.publish(bus.candle_channels(bybit)[0], collector_message(bybit, m, closed=True))
    feed = app.state.live_feed
    await eventually(lambda: feed.closed_until(bybit) == series[3].open_time_ms, 10)
    query = f"symbol=BTCUSDT&timeframe=1&exchange=bybit&kind=linear&since={BASE}"
    async with connect(f"{url}/ws?{query}") as ws:
        got = await texts(ws, 3)
    assert got[:2] == [candle_text(bybit, m, closed=True) for m in series[1:3]]
    summary = orjson.loads(got[2])
    assert (summary["exchange"], summary["kind"], summary["count"]) == ("bybit", "linear", 2)
