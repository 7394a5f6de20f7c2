"""Redis publishing behind a bounded queue: the socket reader and storage never wait for it.

While Redis is down, messages that do not fit are dropped oldest first (subscribers want
the live state, not a backlog) and publishing resumes by itself when Redis answers again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from redis.asyncio import Redis
from redis.exceptions import RedisError

from linkora_core import bus, progress_messages
from linkora_core import market_messages as messages
from linkora_core.backoff import RetryPolicy
from linkora_core.books import Book
from linkora_core.bus import REDIS_DOWN, candle_channels, orderbook_channels
from linkora_core.candles import LiveCandle
from linkora_core.markets import Market

log = logging.getLogger(__name__)

# Subscribers want the live state: while Redis is away, try again at least every 5 s.
REDIS_RETRY = RetryPolicy(first=0.5, cap=5.0)


class Publisher:
    def __init__(self, redis: Redis, max_queued: int = 10_000, batch: int = 500) -> None:
        self._redis = redis
        self._queue: deque[tuple[tuple[str, ...], bytes]] = deque(maxlen=max_queued)
        self._ready = asyncio.Event()
        self._batch = batch
        self.published = 0
        self.dropped = 0
        self.redis_up = True
        self._last: dict[Market, LiveCandle] = {}

    def candle(self, live: LiveCandle) -> None:
        """Queue a candle unless it is exactly the one last sent for its market."""
        if self._last.get(live.market) == live:
            return
        self._last[live.market] = live
        self._put(candle_channels(live.market), messages.encode(messages.candle_message(live)))

    def book(self, book: Book) -> None:
        self._put(orderbook_channels(book.market), messages.encode(messages.book_message(book)))

    def progress(self, report: progress_messages.ProgressReport) -> None:
        self._put((bus.PROGRESS,), progress_messages.encode(report))

    def _put(self, channels: tuple[str, ...], payload: bytes) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append((channels, payload))
        self._ready.set()

    async def redis_answers(self) -> bool:
        """Whether Redis answers a ping within a bounded time (a half-open connection would
        otherwise hold it for the socket timeout)."""
        try:
            async with asyncio.timeout(2.0):
                return await bus.is_healthy(self._redis)
        except (TimeoutError, RedisError):
            return False

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def run(self) -> None:
        """Publish until cancelled (no stop event: the collector cancels it, then flushes)."""
        backoff = REDIS_RETRY.backoff()
        while True:
            if not self._queue:
                self._ready.clear()
                await self._ready.wait()
            batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
            try:
                await self._send(batch)
            except (*REDIS_DOWN, RedisError) as error:
                # Any Redis trouble (down, misconfigured) pauses publishing, never collection.
                if self.redis_up:
                    log.warning("redis unavailable (%r); publishing paused", error)
                self.redis_up = False
                # Put the batch back in front (dropping the oldest if the queue refilled).
                for item in reversed(batch):
                    if len(self._queue) == self._queue.maxlen:
                        self.dropped += 1
                        continue
                    self._queue.appendleft(item)
                await backoff.wait()
                continue
            if not self.redis_up:
                log.info("redis is back; publishing resumed")
            self.redis_up = True
            backoff.reset()
            self.published += len(batch)

    async def flush(self, seconds: float) -> None:
        """Publish what is queued, giving up after `seconds` (Redis may be down)."""
        try:
            async with asyncio.timeout(seconds):
                while self._queue:
                    batch = [self._queue.popleft() for _ in range(min(500, len(self._queue)))]
                    await self._send(batch)
                    self.published += len(batch)
        except (TimeoutError, RedisError, *REDIS_DOWN):
            log.warning("shutting down with %d unpublished messages", len(self._queue))

    async def _send(self, batch: list[tuple[tuple[str, ...], bytes]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for channels, payload in batch:
                for channel in channels:
                    pipe.publish(channel, payload)
            await pipe.execute()
