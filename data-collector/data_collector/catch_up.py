"""Filling the minutes the stream did not deliver, from REST, through the live sinks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import asyncpg

from data_collector import backfill, candle_writes, state_store
from data_collector.exchange import ExchangeRest
from data_collector.live_store import LiveStore
from data_collector.publisher import Publisher
from data_collector.status import MarketStatus
from linkora_core.candles import LiveCandle, parse_kline
from linkora_core.db import DATABASE_DOWN
from linkora_core.epoch import MINUTE_MS
from linkora_core.markets import Market

log = logging.getLogger(__name__)

CatchUp = Callable[[Market], Awaitable[int]]
"""Fills one market from its newest closed minute; returns how many candles it handed on."""


async def resume_point(pool: asyncpg.Pool, status: MarketStatus) -> int | None:
    """The newest closed minute: from the database, else from memory if it is down."""
    try:
        stored = await candle_writes.last_closed_ms(pool, status.market)
    except DATABASE_DOWN:
        stored = None
    if stored is not None:
        status.closed(stored)
    return status.last_closed_ms


async def catch_up(
    rest: ExchangeRest,
    pool: asyncpg.Pool,
    store: LiveStore,
    publisher: Publisher,
    status: MarketStatus,
    start_ms: int,
) -> int:
    """Fetch every minute from the newest closed one on; store and publish each, in order.

    Returns the number of candles handed on.
    """
    last = await resume_point(pool, status)
    start = start_ms if last is None else last + MINUTE_MS
    count = 0
    market = status.market
    async for page in backfill.fetch_span(
        rest, market, start, concurrency=2, previous_open_ms=last
    ):
        for row in page.rows:
            live = LiveCandle(market, parse_kline(row), row[6] < page.server_ms)
            store.candle(live)
            publisher.candle(live)
            if live.closed:
                status.closed(live.candle.open_time_ms)
            count += 1
        if page.holes:
            try:
                await state_store.record_gaps(pool, market, page.holes)
            except DATABASE_DOWN:
                log.warning("could not record gaps of %s; the audit will", market)
    if count:
        log.info("%s: caught up %d minutes from REST", market, count)
    return count
