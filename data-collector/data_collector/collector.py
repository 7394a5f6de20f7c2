"""The collector's phases: backfill every market, then real time (stream or polling) with
the gap audit and order-book retention alongside; on stop, flush and return.

Every long-running loop (publisher, live store, stream or poller, audit, retention) runs
under `BackgroundTasks`: one that ends unexpectedly is logged, makes `/ready` answer 503 and
is started again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from data_collector import (
    adapters,
    audit,
    backfill,
    book_store,
    candle_writes,
    paging,
    state_store,
    storage,
    venue_status,
)
from data_collector.catch_up import catch_up
from data_collector.exchange import (
    ExchangeBlocked,
    ExchangeError,
    ExchangeRequestError,
    ExchangeRest,
    LiveStream,
)
from data_collector.live_store import LiveStore
from data_collector.poller import Poller
from data_collector.progress import Progress
from data_collector.publisher import Publisher
from data_collector.rest import BinanceRest
from data_collector.settings import CollectorSettings, RealtimeMode
from data_collector.status import CollectorStatus
from linkora_core import db
from linkora_core.backoff import RetryPolicy, pause
from linkora_core.db import DATABASE_DOWN
from linkora_core.markets import BINANCE_SPOT, Market, Venue
from linkora_core.readiness import CachedCheck
from linkora_core.tasks import BackgroundTasks

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
RETENTION_EVERY = 300.0  # seconds between deletions of order-book snapshots past retention

EXCHANGE_INFO_RETRY = RetryPolicy(first=1.0, cap=30.0)
# A failed backfill starts its market over, spending request weight again: at most once a
# minute while the exchange or the database stays away.
BACKFILL_RETRY = RetryPolicy(first=1.0, cap=60.0)


@dataclass(eq=False)
class Collector:
    """Every collected market, each through the REST source and live stream of its venue."""

    settings: CollectorSettings
    pool: asyncpg.Pool
    sources: Mapping[Venue, ExchangeRest]
    session: aiohttp.ClientSession
    publisher: Publisher
    streams: dict[Venue, list[LiveStream]] = field(default_factory=dict, init=False)
    poller: Poller | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.refusals = storage.Refusals()
        self.store = LiveStore(self.pool, self.settings.orderbook_store_interval, self.refusals)
        self.markets = self.settings.collected_markets
        missing = [str(m) for m in self.markets if m.venue not in self.sources]
        if missing:
            raise ValueError(f"no REST source for the venue of {', '.join(missing)}")
        self.venues = sorted({m.venue for m in self.markets})
        self.status = CollectorStatus()
        # Per exchange, what all its streams' (re)connections pace on.
        self.connects = adapters.connection_budgets(self.settings.weight_budget_fraction)
        for market in self.markets:
            self.status.of(market)
        self.backfilled = asyncio.Event()
        self.tasks = BackgroundTasks("data-collector")
        self._database = CachedCheck(lambda: db.is_healthy(self.pool))
        self._redis = CachedCheck(self.publisher.redis_answers)

    async def problems(self) -> dict[str, str]:
        """Why the collector is not ready (`/ready`): its database or Redis does not answer,
        or a background task is down; empty when ready."""
        problems = self.tasks.problems()
        if not await self._database.get():
            problems["database"] = "unreachable"
        if not await self._redis.get():
            problems["redis"] = "unreachable"
        return problems

    @property
    def stream(self) -> LiveStream | None:
        """The (first) live stream of Binance spot, or of the first venue collected."""
        venue = BINANCE_SPOT if BINANCE_SPOT in self.streams else next(iter(self.streams), None)
        return None if venue is None else self.streams[venue][0]

    def streaming(self, venue: Venue) -> bool:
        """Every live stream of the venue connected (False in the polling mode)."""
        streams = self.streams.get(venue, [])
        return bool(streams) and all(stream.connected for stream in streams)

    def resyncs(self, venue: Venue) -> int:
        """Books of the venue found out of sync and rebuilt (streams that keep none: 0)."""
        return sum(stream.resyncs for stream in self.streams.get(venue, ()))

    def health(self) -> dict[str, Any]:
        """Service-wide figures for `/health`, next to the per-market status: `rest` is the
        first venue's REST source (Binance spot's when collected), `venues` every one's."""
        figures = {
            venue.key: {
                **_rest_figures(self.sources[venue]),
                "websocket_connected": self.streaming(venue),
                "book_resyncs": self.resyncs(venue),
            }
            for venue in self.venues
        }
        return {
            "database": "healthy" if self.store.db_up else "unhealthy",
            "redis": "healthy" if self.publisher.redis_up else "unhealthy",
            "rest": figures[self.venues[0].key] if self.venues else {},
            "venues": figures,
            "published": self.publisher.published,
            "publish_queue": self.publisher.queued,
            "publish_dropped": self.publisher.dropped,
            "storage_pending": self.store.pending,
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Collect until `stop` is set, then flush what is buffered and return."""
        self.tasks.stop = stop
        self.tasks.start("publisher", self.publisher.run)
        self.tasks.start("live-store", self.store.run)
        self.tasks.start(
            "venue-status", lambda: venue_status.run_status_writer(self, self.pool, stop)
        )
        work = asyncio.create_task(self._work(stop))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([work, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            work.cancel()
            stopping.cancel()
            await asyncio.gather(work, stopping, return_exceptions=True)
            await self.tasks.close()
            with contextlib.suppress(TimeoutError, *DATABASE_DOWN):
                async with asyncio.timeout(FLUSH_SECONDS):
                    await self.store.flush()
            await self.publisher.flush(2.0)
        if work.done() and not work.cancelled() and (error := work.exception()) is not None:
            raise error

    async def _work(self, stop: asyncio.Event) -> None:
        """Prepare and backfill, then start the real-time tasks and wait for `stop`."""
        await self.prepare()
        await self.backfill_all()
        s = self.settings
        if s.orderbook_retention > 0:
            self.tasks.start("retention", lambda: self._retention(stop))
        for market in self.markets:
            if self.status.of(market).phase != "error":
                await self._set_phase(market, "realtime")
        for venue in self.venues:
            self._start_realtime(venue, stop)
        self.backfilled.set()
        await stop.wait()

    def _start_realtime(self, venue: Venue, stop: asyncio.Event) -> None:
        """The venue's audit and its live stream (or, for Binance spot in REALTIME_MODE=rest,
        the poller); task names carry the venue but for the first venue's."""
        s, rest = self.settings, self.sources[venue]
        suffix = "" if venue == self.venues[0] else f":{venue.key}"
        markets = [m for m in self.markets if m.venue == venue]
        if s.audit_interval > 0:
            self.tasks.start(
                "audit" + suffix,
                lambda: audit.run_audits(
                    rest, self.pool, markets, s.audit_interval, stop, self.refusals, s.start_ms
                ),
            )
        active = [m for m in markets if self.status.of(m).phase == "realtime"]
        if not active:
            return
        if s.realtime_mode is RealtimeMode.REST and isinstance(rest, BinanceRest):
            poller = self.poller = Poller(
                rest, active, self.store, self.publisher, self._catch_up,
                interval=s.realtime_interval, levels=s.orderbook_levels,
            )  # fmt: skip
            self.tasks.start("poller" + suffix, lambda: poller.run(stop))
            return
        parts = adapters.StreamParts(
            self.session, self.store, self.publisher, self.status, self._catch_up, self.connects
        )
        for name, stream in adapters.live_streams(s, rest, active, parts):
            self.streams.setdefault(venue, []).append(stream)
            self.tasks.start(
                "stream" + suffix + (f":{name}" if name else ""), _runner(stream, stop)
            )

    async def prepare(self) -> None:
        # No stop event in prepare or the backfill: a stop cancels them (see `run`).
        for venue in self.venues:
            rest = self.sources[venue]
            backoff = EXCHANGE_INFO_RETRY.backoff()
            while True:
                try:
                    await rest.prepare()
                    break
                except ExchangeBlocked:
                    raise
                except ExchangeError as error:
                    delay = backoff.next_delay()
                    log.warning("%s: preparing failed (%s); retry in %.0fs", venue, error, delay)
                    await asyncio.sleep(delay)
            log.info(
                "%s: request limit %d/window; pacing at %d",
                venue,
                rest.budget.limit,
                rest.budget.allowance,
            )
        await state_store.ensure(self.pool, self.markets)

    async def backfill_all(self) -> None:
        """Every market from START_DATE (or its listing, or the newest stored minute) to now."""
        # Several writers let PostgreSQL use more than one core; each market sticks to one
        # writer, so its pages are still stored in order.
        s = self.settings
        writers = [
            backfill.BulkWriter(
                self.pool,
                s.backfill_batch_rows,
                on_closed=lambda market, ms: self.status.of(market).closed(ms),
                refusals=self.refusals,
            )
            for _ in range(min(s.backfill_writers, len(self.markets)))
        ]
        # Writers live only for the backfill; one that ends early (a bug) must not leave the
        # fetchers waiting on its full queue: the backfill stops and raises what it raised.
        tasks = [asyncio.create_task(writer.run()) for writer in writers]
        fetching = asyncio.ensure_future(
            asyncio.gather(
                *(self._backfill(m, writers[i % len(writers)]) for i, m in enumerate(self.markets))
            )
        )
        waited: list[asyncio.Future[Any]] = [fetching, *tasks]
        try:
            await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
            if fetching.done():
                fetching.result()
            else:
                log.error("a backfill writer stopped while fetching; stopping the backfill")
        finally:
            fetching.cancel()
            await asyncio.gather(fetching, return_exceptions=True)
            try:
                async with asyncio.timeout(FLUSH_SECONDS):
                    for writer, task in zip(writers, tasks, strict=True):
                        if not task.done():
                            await writer.close()
                    await asyncio.shield(asyncio.gather(*tasks))
            except TimeoutError:
                for task in tasks:
                    task.cancel()
        log.info("backfill done: %d rows changed", sum(w.rows_changed for w in writers))

    async def _backfill(self, market: Market, writer: backfill.BulkWriter) -> None:
        backoff = BACKFILL_RETRY.backoff()
        while True:
            try:
                await self._backfill_once(market, writer)
                return
            except (ExchangeBlocked, ExchangeRequestError) as error:
                log.error("backfill of %s stopped: %s", market, error)
                await self._set_phase(market, "error", str(error))
                return
            except (ExchangeError, aiohttp.ClientError, ValueError, *DATABASE_DOWN) as error:
                delay = backoff.next_delay()
                log.warning("backfill of %s failed (%r); retry in %.0fs", market, error, delay)
                await asyncio.sleep(delay)

    async def _backfill_once(self, market: Market, writer: backfill.BulkWriter) -> None:
        await self._set_phase(market, "backfill")
        rest = self.sources[market.venue]
        listed = await state_store.listed_at_ms(self.pool, market)
        if listed is None:
            listed = await rest.listing_ms(market.symbol)
            if listed is None:
                raise ExchangeRequestError(200, None, f"no klines at all for {market}")
            await state_store.set_listed_at(self.pool, market, listed)
        first = max(self.settings.start_ms, listed)
        # The span from START_DATE (or the listing) on: minutes before the oldest stored one
        # (START_DATE lowered, a first batch lost) are fetched before resuming at the newest.
        oldest = await candle_writes.first_open_ms(self.pool, market, first)
        if oldest is not None and oldest > first:
            log.info("backfill %s from %d up to the oldest stored minute %d", market, first, oldest)
            async for page in backfill.fetch_span(
                rest, market, first, concurrency=self.settings.backfill_concurrency,
                end_ms=oldest - paging.MINUTE_MS,
            ):  # fmt: skip
                await writer.put(page)
        last = await candle_writes.last_closed_ms(self.pool, market)
        start = first if last is None or last < first else last + paging.MINUTE_MS
        server_ms = await rest.server_time()
        progress = Progress(market)
        progress.start(
            paging.minutes_between(first, server_ms),
            paging.minutes_between(first, start - paging.MINUTE_MS),
            time.monotonic(),
        )
        writer.progress[market] = progress
        self.status.of(market).progress = progress
        log.info(
            "backfill %s from %d (%d minutes to go)", market, start, progress.total - progress.done
        )
        async for page in backfill.fetch_span(
            rest, market, start, concurrency=self.settings.backfill_concurrency,
            previous_open_ms=last if last is not None and last >= first else None,
            server_ms=server_ms,
        ):  # fmt: skip
            await writer.put(page)
        progress.finished = True

    async def _catch_up(self, market: Market) -> int:
        return await catch_up(
            self.sources[market.venue], self.pool, self.store, self.publisher,
            self.status.of(market), self.settings.start_ms,
        )  # fmt: skip

    async def _set_phase(self, market: Market, phase: str, error: str | None = None) -> None:
        status = self.status.of(market)
        status.phase, status.error = phase, error
        try:
            await state_store.set_phase(self.pool, market, phase, error)
        except DATABASE_DOWN:
            log.warning("could not record phase %s of %s", phase, market)

    async def _retention(self, stop: asyncio.Event) -> None:
        seconds = self.settings.orderbook_retention
        while not stop.is_set():
            try:
                deleted = await book_store.delete_older_than(self.pool, seconds)
                if deleted:
                    log.info("removed %d order-book snapshots past retention", deleted)
            except DATABASE_DOWN as error:
                log.warning("order-book retention skipped: %r", error)
            await pause(RETENTION_EVERY, stop)


def _runner(stream: LiveStream, stop: asyncio.Event) -> Callable[[], Coroutine[Any, Any, None]]:
    return lambda: stream.run(stop)


def _rest_figures(rest: ExchangeRest) -> dict[str, int]:
    budget = rest.budget
    return {
        "requests": rest.requests,
        "weight_limit": budget.limit,
        "weight_used": budget.used,
        "rejections": budget.rejections,
    }
