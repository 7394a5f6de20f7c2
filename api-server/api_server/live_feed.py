"""One Redis subscription per process: the collector's live minutes become open and closed
buckets of every timeframe some client follows, and order books are passed through. It
listens to every venue's all-symbols channels and routes each message by the market it names;
backfill progress goes to the progress relay, and a market removed (`bus.CONTROL`) ends its
subscriptions.

Each (market, timeframe) has a `LiveBucket` seeded from the database when first needed (the
part of the open bucket before the first live minute). Closed buckets go out once, at once;
open-bucket updates at most once per `update_interval` (0: on every change), which may change
at runtime (`set_update_interval`).

For greeting and resuming subscribers (`ws_greeting`) it also remembers, per market, the
newest minute it saw, the newest closed one and where closed time ends (`closed_until`), and
the newest book message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import KW_ONLY, dataclass, field

import asyncpg
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError

from api_server import control_events
from api_server.candle_reader import Reader
from api_server.progress_relay import ProgressRelay
from api_server.ws_hub import Hub
from api_server.ws_sequence import book_text, candle_text
from linkora_core import bus, db, market_messages
from linkora_core.backoff import RetryPolicy
from linkora_core.bus import REDIS_DOWN, all_channels
from linkora_core.candles import Candle
from linkora_core.live_bucket import LiveBucket
from linkora_core.markets import Market
from linkora_core.timeframes import Timeframe
from linkora_core.wakeups import sleep_unless

log = logging.getLogger(__name__)

BOOK_CHANNELS = frozenset(all_channels("orderbook"))
CHANNELS = (*all_channels("candles"), *all_channels("orderbook"), bus.PROGRESS, bus.CONTROL)
# Redis lost: reconnect soon (clients stay connected meanwhile), then at most every 5 s.
REDIS_RETRY = RetryPolicy(first=0.25, cap=5.0)
# The kernel's own probes as a second line (Linux names; elsewhere its defaults apply).
_TCP_KEEPALIVE = {
    getattr(socket, name): value
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
    if hasattr(socket, name)
}


@dataclass(eq=False)
class _Live:
    bucket: LiveBucket
    last_closed: int | None = None
    pending: Candle | None = None


@dataclass(eq=False)
class _Seen:
    """One market's newest minute, its newest closed minute, and the end of closed time: a
    minute is closed by its closed message or by a later minute."""

    newest: Candle
    closed: Candle | None = None
    closed_until: int = 0

    def take(self, minute: Candle, closed: bool) -> None:
        if minute.open_time_ms >= self.newest.open_time_ms:
            self.newest = minute
        self.closed_until = max(self.closed_until, minute.open_time_ms)
        if closed and minute.close_time_ms + 1 >= self.closed_until:
            self.closed, self.closed_until = minute, minute.close_time_ms + 1


@dataclass(eq=False)
class LiveFeed:
    """`ping_interval`: seconds of silence after which Redis is pinged, and as many again
    after which the connection counts as dead."""

    redis_url: str
    hub: Hub
    pool: asyncpg.Pool
    _: KW_ONLY
    update_interval: float = 1.0
    ping_interval: float = 5.0
    connected: bool = field(default=False, init=False)
    received: int = field(default=0, init=False)
    _live: dict[Market, dict[Timeframe, _Live]] = field(default_factory=dict, init=False)
    _retimed: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _seen: dict[Market, _Seen] = field(default_factory=dict, init=False)
    _books: dict[Market, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.progress = ProgressRelay(self.hub)

    def set_update_interval(self, seconds: float) -> None:
        """Change the open-bucket interval at runtime (what is held back goes out now)."""
        self.update_interval = seconds
        self._retimed.set()

    async def handle(self, channel: str, data: bytes) -> None:
        """Route one Redis message; a malformed one is logged and skipped. Books go out as
        the collector encoded them: only their market is read, to route them."""
        self.received += 1
        try:
            if channel == bus.PROGRESS:
                self.progress.handle(data)
                return
            if channel == bus.CONTROL:
                market = control_events.removed_market(data)
                if market is not None:
                    closed = control_events.end_market(self.hub, market)
                    log.info("%s removed: %d WebSocket clients closed", market, closed)
                return
            message = market_messages.decode(data)
            if channel in BOOK_CHANNELS:
                market = market_messages.market_of(message)
                text = self._books[market] = book_text(data, message)
                self.hub.publish("orderbook", market, "", text)
                return
            live = market_messages.candle_from(message)
            if live.candle.timeframe is Timeframe.MINUTE_1:
                self._see(live.market, live.candle, live.closed)
                await self._minute(live.market, live.candle, live.closed)
        except (KeyError, ValueError, TypeError) as problem:
            log.warning("skipping a malformed %s message: %s", channel, problem)

    def _see(self, market: Market, minute: Candle, closed: bool) -> None:
        seen = self._seen.get(market)
        if seen is None:
            seen = self._seen[market] = _Seen(minute)
        seen.take(minute, closed)

    def closed_until(self, market: Market) -> int | None:
        """Where closed time ends for `market` as this feed saw it: every bucket ending at or
        before it has gone out closed (None: no minute seen since the process started)."""
        seen = self._seen.get(market)
        return None if seen is None or not seen.closed_until else seen.closed_until

    def closed_minute(self, market: Market) -> Candle | None:
        """The newest minute seen in its closed message."""
        seen = self._seen.get(market)
        return None if seen is None else seen.closed

    def newest_minute(self, market: Market) -> Candle | None:
        seen = self._seen.get(market)
        return None if seen is None else seen.newest

    def open_bucket(self, market: Market, timeframe: Timeframe) -> Candle | None:
        """The open bucket as last aggregated, when some client follows it (else None)."""
        live = self._live.get(market, {}).get(timeframe)
        if live is None:
            return None
        current = live.pending or live.bucket.current
        if current is None or current.open_time_ms == live.last_closed:
            return None
        return current

    def book(self, market: Market) -> str | None:
        """The newest book message of `market`, with its seq."""
        return self._books.get(market)

    async def _minute(self, market: Market, minute: Candle, closed: bool) -> None:
        wanted = {Timeframe(label) for label in self.hub.wanted_timeframes(market)}
        buckets = self._live.setdefault(market, {})
        # A bucket nobody follows stops seeing minutes: forget it, reseed when wanted again.
        for timeframe in set(buckets) - wanted:
            del buckets[timeframe]
        for timeframe in wanted:
            live = buckets.get(timeframe)
            if live is None:
                seeded = await self._start(market, timeframe, minute)
                if seeded is None:
                    continue  # the database is away: seeding is tried again next minute
                live = buckets[timeframe] = seeded
            update = live.bucket.update(minute)
            if update is None:
                continue
            if update.closed is not None and update.closed.open_time_ms != live.last_closed:
                self._emit(market, update.closed, closed=True)
            current = update.current
            live.last_closed = (
                update.closed.open_time_ms if update.closed is not None else live.last_closed
            )
            if current.open_time_ms == live.last_closed:
                continue  # a repeat of a bucket already sent closed
            if closed and minute.close_time_ms == current.close_time_ms:
                live.pending = None
                live.last_closed = current.open_time_ms
                self._emit(market, current, closed=True)
            elif self.update_interval == 0:
                self._emit(market, current, closed=False)
            else:
                live.pending = current

    async def _start(self, market: Market, timeframe: Timeframe, minute: Candle) -> _Live | None:
        """A live bucket holding what the database has of the open bucket so far; None when
        the database cannot say (a bucket without its earlier minutes would be wrong)."""
        live = _Live(LiveBucket(timeframe))
        if timeframe is Timeframe.MINUTE_1:
            return live
        start = timeframe.bucket_start(minute.open_time_ms)
        try:
            async with self.pool.acquire() as connection:
                reader = await Reader.open(connection, market, timeframe)
                pieces = await reader.pieces(timeframe, start)
        except (*db.DATABASE_DOWN, asyncpg.PostgresError) as problem:
            log.warning("open %s %s bucket not seeded: %r", market, timeframe.value, problem)
            return None
        for piece in pieces:
            if piece.open_time_ms != minute.open_time_ms:
                live.bucket.update(piece)
        return live

    def _emit(self, market: Market, candle: Candle, *, closed: bool) -> None:
        message = candle_text(market, candle, closed=closed)
        self.hub.publish("candles", market, candle.timeframe.value, message)

    def flush(self) -> None:
        """Send the newest open-bucket update of every pair that changed since the last flush."""
        for market, buckets in self._live.items():
            for live in buckets.values():
                if live.pending is not None:
                    candle, live.pending = live.pending, None
                    self._emit(market, candle, closed=False)

    async def flush_loop(self, stop: asyncio.Event) -> None:
        """Flush every `update_interval` (idle while it is 0: updates then go out at once);
        a new interval takes effect at once."""
        while not stop.is_set():
            self._retimed.clear()
            await sleep_unless(self.update_interval or None, self._retimed, stop)
            if not stop.is_set():
                self.flush()

    async def run(self, stop: asyncio.Event) -> None:
        """Subscribe and dispatch until `stop`; a lost Redis is reconnected with backoff while
        every WebSocket client stays connected."""
        backoff = REDIS_RETRY.backoff()
        while not stop.is_set():
            redis = Redis.from_url(
                self.redis_url,
                socket_connect_timeout=2,
                socket_keepalive=True,
                socket_keepalive_options=_TCP_KEEPALIVE,
            )
            pubsub = redis.pubsub()
            try:
                await pubsub.subscribe(*CHANNELS)
                # Minutes published while unsubscribed are lost: rebuild buckets from the DB.
                self._live.clear()
                await self._listen(pubsub, stop)
            except REDIS_DOWN as problem:
                if self.connected:
                    backoff.reset()  # this connection worked: the next one is tried soon
                log.warning(
                    "live feed lost Redis (%s); retrying in %.2fs", problem, backoff.upcoming
                )
            finally:
                self.connected = False
                with contextlib.suppress(*REDIS_DOWN):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
                    await redis.aclose()
            if not await backoff.wait(stop):
                break

    async def _listen(self, pubsub: PubSub, stop: asyncio.Event) -> None:
        """Dispatch messages until `stop`. A connection silent for the ping interval is
        pinged; one that stays silent as long again is dead (a half-open TCP connection
        raises nothing by itself) and raises, to be replaced."""
        heard = time.monotonic()
        pinged: float | None = None
        while not stop.is_set():
            item = await pubsub.get_message(timeout=min(1.0, self.ping_interval))
            now = time.monotonic()
            if item is not None:
                heard, pinged = now, None
                if item["type"] == "message":
                    await self.handle(item["channel"].decode(), item["data"])
                elif item["type"] == "subscribe" and not self.connected:
                    self.connected = True  # Redis answered: this connection works
                    log.info("live feed subscribed to %s", ", ".join(CHANNELS))
            elif pinged is None and now - heard >= self.ping_interval:
                await pubsub.ping()
                pinged = now
            elif pinged is not None and now - pinged >= self.ping_interval:
                raise RedisConnectionError(f"no answer from Redis for {now - heard:.1f}s")
