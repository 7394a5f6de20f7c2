"""What a greeting reads from the database: the closed candles a resuming client missed (the
same candle reader REST uses, so replayed candles are exactly the stored ones), whether the
collector's writes have caught up with what the live feed already announced closed, and the
open bucket of a timeframe nobody followed yet."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from api_server import candle_store
from api_server.candle_reader import Reader
from linkora_core.candles import Candle
from linkora_core.db import Executor
from linkora_core.live_bucket import LiveBucket
from linkora_core.markets import Market
from linkora_core.timeframes import MINUTE_MS, Timeframe

# The most closed candles one resume replays (the REST page limit); beyond it the newest of
# them are replayed and the reply says `truncated` (older ones: GET /candles).
MAX_REPLAY = 5000


@dataclass(frozen=True, slots=True)
class Replay:
    """Closed candles oldest first; `truncated` when more closed since than were replayed."""

    candles: list[Candle]
    truncated: bool = False


async def closed_since(
    db: Executor, market: Market, timeframe: Timeframe, since: int, until: int, limit: int
) -> Replay:
    """The closed `timeframe` buckets opening after `since` and ending by `until` (where
    closed time ends), oldest first: the first `limit`, or, when there are more, the newest
    `limit` (the live stream goes on from the newest)."""
    end = timeframe.bucket_start(until)
    if end <= since + 1:
        return Replay([])
    reader = await Reader.open(db, market, timeframe)
    first = await reader.oldest(timeframe, since + 1, end, limit + 1)
    if len(first) <= limit:
        return Replay(first)
    newest = await reader.newest(timeframe, end, limit)
    return Replay(newest[::-1], truncated=True)


async def stored_until(db: Executor, market: Market) -> int | None:
    """The open time of the newest stored minute: every minute before it is closed (the
    collector stores a minute's closed version before any later minute)."""
    newest = await candle_store.read_page(
        db, market, Timeframe.MINUTE_1, None, None, 1, newest_first=True
    )
    return newest[0].open_time_ms if newest else None


async def caught_up(
    db: Executor, market: Market, until: int, closed: Candle | None, patience: float
) -> bool:
    """Wait (polling, at most `patience` s) until the database holds the last minute before
    `until`, as the live feed saw it closed when it did (`closed`): the collector publishes
    a minute before its buffered write lands. False when it never does."""
    at = until - MINUTE_MS
    deadline = time.monotonic() + patience
    while True:
        rows = await candle_store.read_range(db, market, Timeframe.MINUTE_1, at, at + 1)
        if rows and (closed is None or closed.open_time_ms != at or rows[0] == closed):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)


async def open_bucket(
    db: Executor, market: Market, timeframe: Timeframe, minute: Candle
) -> Candle | None:
    """The `timeframe` bucket `minute` (the newest seen) is part of: the stored pieces
    before it with the minute itself, as the live feed would seed it."""
    if timeframe is Timeframe.MINUTE_1:
        return minute
    reader = await Reader.open(db, market, timeframe)
    pieces = await reader.pieces(timeframe, timeframe.bucket_start(minute.open_time_ms))
    bucket = LiveBucket(timeframe)
    for piece in pieces:
        if piece.open_time_ms != minute.open_time_ms:
            bucket.update(piece)
    update = bucket.update(minute)
    return None if update is None else update.current
