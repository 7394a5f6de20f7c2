"""One Redis subscription per process: the collector's live minutes become open and closed
buckets of every timeframe some client follows, and order books are passed through. It
listens to every venue's all-symbols channels and routes each message by the market it names;
backfill progress goes to the progress relay, and a market removed (`bus.CONTROL`) ends its
subscriptions.

Each (market, timeframe) has a `LiveBucket` seeded from the database when first needed (the
part of the open bucket before the first live minute). Closed buckets go out once, at once;
open-bucket updates at most once per `update_interval` (0: on every change), which may change
at runtime (`set_update_interval`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import KW_ONLY, dataclass, field

import asyncpg
import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError

from api_server import control_events
from api_server.candle_reader import Reader
from api_server.progress_relay import ProgressRelay
from api_server.wire import ws_candle
from api_server.ws_hub import Hub
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
                self.hub.publish("orderbook", market, "", data.decode())
                return
            live = market_messages.candle_from(message)
            if live.candle.timeframe is Timeframe.MINUTE_1:
                await self._minute(live.market, live.candle, live.closed)
        except (KeyError, ValueError, TypeError) as problem:
            log.warning("skipping a malformed %s message: %s", channel, problem)

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
        message = orjson.dumps(ws_candle(market, candle, closed=closed)).decode()
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
