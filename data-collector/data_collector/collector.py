"""The collector's phases: backfill every market, then real time (stream or polling) with
the gap audit and order-book retention alongside; on stop, flush and return.

The markets are the desired state in the database (linkora_core.control_store), seeded from
the environment's at start, and followed at runtime (market_control.py): a market added is
backfilled at once and then collected in real time, one removed stops; runtime settings are
applied. Instances share the markets through leases (leases.py): each collects the desired
markets it holds, and paces the exchanges whose limits are per outgoing address on its part
of the budget.
While a market backfills its progress goes out on Redis `bus.PROGRESS` twice a second.

Every long-running loop (publisher, live store, stream or poller, audit, retention, the
control loop and its LISTEN, progress) runs under `BackgroundTasks`: one that ends
unexpectedly is logged, makes `/ready` answer 503 and is started again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg

from data_collector import (
    adapters,
    book_store,
    progress_reports,
    state_store,
    storage,
    venue_status,
)
from data_collector.backfill_runs import BackfillRuns
from data_collector.catch_up import catch_up
from data_collector.control_reconcile import Tunables
from data_collector.control_watch import ControlWatch
from data_collector.exchange import ExchangeError, ExchangeRest, LiveStream
from data_collector.leases import Leases
from data_collector.live_store import LiveStore
from data_collector.live_venues import LiveVenues
from data_collector.market_control import MarketControl, uncollectable
from data_collector.poller import Poller
from data_collector.publisher import Publisher
from data_collector.settings import SUPPORTED_VENUES, CollectorSettings
from data_collector.status import CollectorStatus
from linkora_core import control_store, db
from linkora_core.backoff import pause
from linkora_core.db import DATABASE_DOWN
from linkora_core.epoch import floor_minute
from linkora_core.markets import BINANCE_SPOT, Market, Venue
from linkora_core.readiness import CachedCheck
from linkora_core.tasks import BackgroundTasks

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
RETENTION_EVERY = 300.0  # seconds between deletions of order-book snapshots past retention
REPORT_EVERY = 0.5  # seconds between progress reports of a backfilling market
# The longest the start waits for one venue's source to prepare (its markets then go alone).
PREPARE_SECONDS = 15.0
SEEDED_BY = "environment"  # the actor recorded for the markets seeded from MARKETS/SYMBOLS


@dataclass(eq=False)
class Collector:
    """Every collected market, each through the REST source and live stream of its venue."""

    settings: CollectorSettings
    pool: asyncpg.Pool
    sources: Mapping[Venue, ExchangeRest]
    session: aiohttp.ClientSession
    publisher: Publisher

    def __post_init__(self) -> None:
        # Every supported venue has a source (they ask nothing until used), so a market
        # added at runtime on any of them can be collected.
        built = dict(self.sources)
        missing = [venue for venue in SUPPORTED_VENUES if venue not in built]
        built.update(adapters.rest_sources(self.settings, self.session, missing))
        self.sources = built
        self.environment = self.settings  # what runtime settings are applied over
        self.refusals = storage.Refusals()
        self.store = LiveStore(
            self.pool,
            self.settings.orderbook_store_interval,
            self.refusals,
            self.settings.announce,
        )
        self.status = CollectorStatus()
        # Each market collected and its own start (ms; None: START_DATE), in desired order.
        self.wanted: dict[Market, int | None] = dict.fromkeys(self.settings.collected_markets)
        for market in self.wanted:
            self.status.of(market)
        # Per exchange, what all its streams' (re)connections pace on.
        self.connects = adapters.connection_budgets(self.settings.weight_budget_fraction)
        self.backfilled = asyncio.Event()
        self.tasks = BackgroundTasks("data-collector")
        parts = adapters.StreamParts(
            self.session, self.store, self.publisher, self.status, self._catch_up, self.connects
        )
        self.live = LiveVenues(
            self.tasks, parts, self.pool, self.refusals, self.start_of,
            lambda: self.settings, self.sources, self.in_realtime,
        )  # fmt: skip
        self.watch = ControlWatch(self.pool)
        self.control = MarketControl(self)
        self.leases = Leases(
            self.pool, self.settings.collector_instance, self.settings.collector_egress,
            self.settings.lease_seconds, self._collecting, self._leases_changed,
        )  # fmt: skip
        self.budget_peers = 1  # instances the shared rate limits are split between
        self.tunables = Tunables(
            self.settings.orderbook_levels,
            self.settings.orderbook_store_interval,
            self.settings.audit_interval,
        )
        self.realtime = False  # the initial backfill is over and real time has started
        self.stop = asyncio.Event()  # run()'s
        self.runs = BackfillRuns(self)
        self._database = CachedCheck(lambda: db.is_healthy(self.pool))
        self._redis = CachedCheck(self.publisher.redis_answers)

    def _collecting(self) -> set[Market]:
        """Markets whose lease must not be let go of yet: collected, or being handed over."""
        return set(self.wanted) | set(self.control.handing)

    def _leases_changed(self) -> None:
        self.watch.wake()
        peers = self.leases.peers
        if peers != self.budget_peers:
            fraction = self.settings.weight_budget_fraction / peers
            adapters.share_budgets(
                self.sources, self.connects, self.settings.shared_rate_limits, fraction
            )
            self.budget_peers = peers
            log.info("rate limits shared by %d instances: %.3f of each budget", peers, fraction)

    @property
    def markets(self) -> list[Market]:
        return list(self.wanted)

    @property
    def venues(self) -> list[Venue]:
        """The venues of the markets collected (those with a source)."""
        return sorted({m.venue for m in self.wanted if m.venue in self.sources})

    @property
    def backfills(self) -> dict[Market, asyncio.Task[None]]:
        """The backfills running, by market."""
        return self.runs.running

    @property
    def streams(self) -> dict[Venue, list[LiveStream]]:
        return self.live.streams

    @property
    def poller(self) -> Poller | None:
        return self.live.poller

    def start_of(self, market: Market) -> int:
        """The first minute collected of `market`: its own start date, else START_DATE."""
        own = self.wanted.get(market)
        return self.settings.start_ms if own is None else floor_minute(own)

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
        return self.live.resyncs(venue)

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
            "instance": self.leases.instance,
            "egress": self.leases.egress,
            "leased_markets": sorted(str(m) for m in self.leases.mine),
            "live_instances": [i.name for i in self.leases.instances],
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Collect until `stop` is set, then flush what is buffered and return."""
        self.tasks.stop = self.stop = stop
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
            # The control loop first: a reconcile still running could add a market (and a
            # task) after `control.close()`.
            if "control" in self.tasks.restarts:
                await self.tasks.end("control")
            await self.control.close()
            await self.tasks.close()
            flushed = False
            with contextlib.suppress(TimeoutError, *DATABASE_DOWN):
                async with asyncio.timeout(FLUSH_SECONDS):
                    await self.store.flush()
                    flushed = True
            await self.publisher.flush(2.0)  # before the leases go: a taker publishes next
            if flushed:  # else the leases expire, and a taker fills the gap from REST
                await self._release_leases()
        if work.done() and not work.cancelled() and (error := work.exception()) is not None:
            raise error

    async def _release_leases(self) -> None:
        try:
            async with asyncio.timeout(FLUSH_SECONDS):
                await self.leases.close()
        except (TimeoutError, *DATABASE_DOWN, asyncpg.PostgresError) as error:
            log.warning("leases not given back (%r); they expire", error)

    async def _work(self, stop: asyncio.Event) -> None:
        """Prepare and backfill, then start the real-time tasks and wait for `stop`; the
        desired state is followed from the start (a market removed meanwhile stops its
        backfill, one added backfills beside the others)."""
        await self.prepare()
        self.tasks.start("leases", lambda: self.leases.run(stop))
        self.tasks.start("control-listen", lambda: self.watch.listen(stop))
        self.tasks.start("control", lambda: self.control.follow(stop))
        self.tasks.start("progress", lambda: self._report_progress(stop))
        initial = await self._prepared_markets()
        for market in self.markets:
            if market not in initial and market.venue in self.sources:
                self.control.collect_alone(market)  # its venue retried (or refused) alone
        await self.backfill_all(initial)
        if self.settings.orderbook_retention > 0:
            self.tasks.start("retention", lambda: self._retention(stop))
        for market in initial:
            status = self.status.markets.get(market)
            # Not one removed or handed over meanwhile, failed, or added again and
            # backfilling on its own.
            if (
                status is not None
                and status.phase == "backfill"
                and market in self.wanted
                and market not in self.backfills
            ):
                await self.set_phase(market, "realtime")
        self.realtime = True
        await self.follow_live()
        self.backfilled.set()
        await stop.wait()

    async def _prepared_markets(self) -> list[Market]:
        """The markets whose venue's source could be prepared at once (each venue tried
        once, together, for at most PREPARE_SECONDS): they backfill together. A venue that
        cannot be (refusing this client, unreachable) must not hold the others back."""

        async def prepared(venue: Venue) -> bool:
            try:
                async with asyncio.timeout(PREPARE_SECONDS):
                    await self.runs.prepare(venue)
            except (ExchangeError, aiohttp.ClientError, TimeoutError) as error:
                log.warning("%s: not prepared at start (%r); its markets go alone", venue, error)
                return False
            return True

        venues = self.venues
        ready = await asyncio.gather(*(prepared(venue) for venue in venues))
        good = {venue for venue, ok in zip(venues, ready, strict=True) if ok}
        return [m for m in self.markets if m.venue in good]

    def in_realtime(self) -> list[Market]:
        statuses = self.status.markets
        return [m for m in self.wanted if m in statuses and statuses[m].phase == "realtime"]

    async def follow_live(self) -> None:
        """Restart the real-time tasks of the venues whose markets in real time changed."""
        if self.realtime:
            await self.live.follow(self.stop)

    async def prepare(self) -> None:
        """Seed the desired state with the environment's markets, claim this instance's share
        of them, read it (and the runtime settings) and ensure each market's state row."""
        # No stop event in prepare or the backfill: a stop cancels them (see `run`).
        await control_store.seed_markets(self.pool, self.environment.collected_markets, SEEDED_BY)
        await self.leases.beat()
        desired = await control_store.desired_markets(self.pool)
        await self.control.apply_settings(await control_store.runtime_settings(self.pool))
        mine = self.leases.mine
        self.wanted = {d.market: d.start_ms for d in desired if d.market in mine}
        for market in [m for m in self.status.markets if m not in self.wanted]:
            del self.status.markets[market]
        for market in self.wanted:
            self.status.of(market)
        log.info("collecting %s", ",".join(str(m) for m in self.wanted) or "no market")
        # No venue is prepared here (see `_prepared_markets`): an exchange refusing this
        # client or unreachable is an error (or a retry) of its markets alone.
        await state_store.ensure(self.pool, self.markets)
        for market in self.wanted:
            if market.venue not in self.sources:
                await self.set_phase(market, "error", uncollectable(market))

    async def backfill_all(self, markets: Sequence[Market] | None = None) -> None:
        """Every market (or those given) from its start (or its listing, or the newest stored
        minute) to now."""
        await self.runs.backfill(self.markets if markets is None else markets)

    async def _report_progress(self, stop: asyncio.Event) -> None:
        while await pause(REPORT_EVERY, stop):
            for status in list(self.status.markets.values()):
                progress = status.progress
                if status.phase == "backfill" and progress is not None and not progress.finished:
                    self.publisher.progress(progress_reports.running(progress))

    def closed_at(self, market: Market, open_ms: int) -> None:
        """A closed minute of `market` stored (none for a market removed)."""
        if (status := self.status.markets.get(market)) is not None:
            status.closed(open_ms)

    async def _catch_up(self, market: Market) -> int:
        status = self.status.markets.get(market)
        if status is None:
            return 0  # removed: its stream is being restarted without it
        return await catch_up(
            self.sources[market.venue], self.pool, self.store, self.publisher, status,
            self.start_of(market),
        )  # fmt: skip

    async def set_phase(self, market: Market, phase: str, error: str | None = None) -> None:
        """Record the phase of a market still collected (a removed one keeps `removed`)."""
        status = self.status.markets.get(market)
        if status is None:
            return
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


def _rest_figures(rest: ExchangeRest) -> dict[str, int]:
    budget = rest.budget
    return {
        "requests": rest.requests,
        "weight_limit": budget.limit,
        "weight_used": budget.used,
        "rejections": budget.rejections,
    }
