"""Storage of live candles and books behind an in-memory buffer, flushed by its own task.

The socket reader only drops items into the buffer. Updates of the same minute collapse to
the newest one, books are kept at `store_interval` per market, and while the database is
down (or a transient error such as a full disk lasts) everything waits (bounded) and is
written when it is back. Rows PostgreSQL refuses are isolated, reported and dropped alone.

What other applications are told (`announce`: closed candles, the throttled price, the books)
is written into the outbox in the transaction of the rows it announces, so a write retried
or halved carries its messages with it (announcements.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import asyncpg

from data_collector import book_store, candle_writes, state_store, storage
from data_collector.announcements import NOTHING, Announce, PriceSampler
from linkora_core import market_announcements, outbox
from linkora_core.backoff import Backoff, RetryPolicy
from linkora_core.books import Book
from linkora_core.candles import LiveCandle
from linkora_core.db import DATABASE_DOWN
from linkora_core.epoch import now_ms
from linkora_core.markets import Market

log = logging.getLogger(__name__)

MAX_BOOKS = 10_000
# Live data waits in memory while the database is away: retried at least every 5 s, so it is
# written within seconds of the database's return.
DB_RETRY = RetryPolicy(first=0.5, cap=5.0)


class LiveStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store_interval: float = 1.0,
        refusals: storage.Refusals | None = None,
        announce: Announce = NOTHING,
    ) -> None:
        self._pool = pool
        self._announce = announce
        self._prices = PriceSampler(announce.price_interval_ms)
        self.refusals = refusals if refusals is not None else storage.Refusals()
        self._interval_ms = int(store_interval * 1000)
        self._candles: dict[tuple[Market, int], LiveCandle] = {}
        self._books: list[Book] = []
        self._last_book_ms: dict[Market, int] = {}
        self._wake = asyncio.Event()
        # Held by a flush: `forget` waits for one in progress, so nothing of a market it
        # forgot is written after it returns.
        self._flushing = asyncio.Lock()
        self.db_up = True
        self.candles_written = 0
        self.books_written = 0

    def set_interval(self, store_interval: float) -> None:
        """Keep books at this many seconds per market from now on (a runtime setting)."""
        self._interval_ms = int(store_interval * 1000)

    def candle(self, live: LiveCandle) -> None:
        key = (live.market, live.candle.open_time_ms)
        known = self._candles.get(key)
        # A closed minute stays closed even if an older open update arrives after it.
        if known is None or live.closed or not known.closed:
            self._candles[key] = live
        self._wake.set()

    def book(self, book: Book) -> None:
        last = self._last_book_ms.get(book.market)
        if last is not None and book.received_ms - last < self._interval_ms:
            return
        self._last_book_ms[book.market] = book.received_ms
        if len(self._books) >= MAX_BOOKS:
            del self._books[0]
        self._books.append(book)
        self._wake.set()

    async def forget(self, market: Market) -> None:
        """Drop what is buffered for `market` (removed at runtime), once a flush in progress
        has ended: after this returns, nothing of it is written."""
        async with self._flushing:
            self._candles = {k: v for k, v in self._candles.items() if k[0] != market}
            self._books = [b for b in self._books if b.market != market]
            self._last_book_ms.pop(market, None)

    @property
    def pending(self) -> int:
        return len(self._candles) + len(self._books)

    async def run(self, period: float = 0.2) -> None:
        """Flush every `period` seconds while there is something to write, until cancelled
        (no stop event: the collector cancels it, then flushes once more itself)."""
        backoff = DB_RETRY.backoff()
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except asyncpg.PostgresError as error:
                if not storage.transient(error):
                    # Refused bookkeeping (the candles and books themselves are isolated).
                    log.error("live bookkeeping refused by the database: %r", error)
                    continue
                await self._db_away(error, backoff)
                continue
            except DATABASE_DOWN as error:
                await self._db_away(error, backoff)
                continue
            if not self.db_up:
                log.info("database is back; buffered live data written")
            self.db_up = True
            backoff.reset()
            await asyncio.sleep(period)

    async def _db_away(self, error: BaseException, backoff: Backoff) -> None:
        if self.db_up:
            log.warning("database unavailable (%r); live data buffered", error)
        self.db_up = False
        # Connections that lived through the outage may be broken: open fresh ones.
        await self._pool.expire_connections()
        self._wake.set()
        await backoff.wait()

    async def flush(self) -> None:
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        candles, self._candles = self._candles, {}
        books, self._books = self._books, []
        try:
            async with self._pool.acquire() as connection:
                if candles:
                    ordered = sorted(candles.values(), key=lambda c: c.candle.open_time_ms)
                    await storage.write_isolating(
                        lambda batch: self._write_candles(connection, batch),
                        ordered,
                        self._refused_candle,
                    )
                    closed: dict[Market, int] = {}
                    for live in ordered:
                        if live.closed:
                            closed[live.market] = live.candle.open_time_ms
                    for market, open_ms in closed.items():
                        await state_store.advance_closed(connection, market, open_ms)
                if books:
                    await storage.write_isolating(
                        lambda batch: self._write_books(connection, batch),
                        books,
                        self._refused_book,
                    )
        except (asyncio.CancelledError, asyncpg.PostgresError, *DATABASE_DOWN) as error:
            if isinstance(error, asyncio.CancelledError) or storage.transient(error):
                # Keep what failed, unless something newer arrived for the same minute.
                for key, live in candles.items():
                    self._candles.setdefault(key, live)
                self._books[:0] = books[-MAX_BOOKS:]
            raise
        self.candles_written += len(candles)
        self.books_written += len(books)

    async def _write_candles(
        self, connection: asyncpg.Connection, batch: Sequence[LiveCandle]
    ) -> int:
        at = now_ms()
        prices = self._prices.due(batch, at)
        await candle_writes.upsert_live(
            connection, batch, self._announce.kline_timeframes, list(prices.values())
        )
        self._prices.sent(prices, at)
        return len(batch)

    async def _write_books(self, connection: asyncpg.Connection, batch: Sequence[Book]) -> int:
        async with connection.transaction():
            await book_store.insert_books(connection, batch)
            if self._announce.books:
                await outbox.add(connection, [market_announcements.book_message(b) for b in batch])
        return len(batch)

    def _refused_candle(self, live: LiveCandle, error: asyncpg.PostgresError) -> None:
        self.refusals.report("live", f"{live.market} candle at {live.candle.open_time_ms}", error)

    def _refused_book(self, book: Book, error: asyncpg.PostgresError) -> None:
        self.refusals.report("live", f"{book.market} book at {book.received_ms}", error)
