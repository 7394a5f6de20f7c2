"""The real-time tasks of each venue: its live streams (or, for Binance spot in
REALTIME_MODE=rest, the poller) and its gap audit, all covering the venue's markets in real
time. When that set changes (a market added, removed, its exchange disabled) only that venue's
tasks are restarted: its streams reconnect and fill the gap from REST as after any reconnect.

Task names carry the venue (`stream:bybit-linear`), but for the first venue started, whose
tasks keep the names they had when the collector had one venue (`stream`, `audit`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from data_collector import adapters, audit, storage
from data_collector.control_reconcile import venues_to_restart
from data_collector.exchange import ExchangeRest, LiveStream
from data_collector.poller import Poller
from data_collector.rest import BinanceRest
from data_collector.settings import CollectorSettings, RealtimeMode
from data_collector.venue_stream import VenueStream
from linkora_core.markets import Market, Venue
from linkora_core.tasks import BackgroundTasks


@dataclass(eq=False)
class LiveVenues:
    tasks: BackgroundTasks
    parts: adapters.StreamParts
    pool: asyncpg.Pool
    refusals: storage.Refusals
    start_of: Callable[[Market], int]  # the first minute collected of a market
    settings: Callable[[], CollectorSettings]  # the current ones (runtime values applied)
    sources: Mapping[Venue, ExchangeRest]
    realtime: Callable[[], list[Market]]  # the markets in real time, all venues
    streams: dict[Venue, list[LiveStream]] = field(default_factory=dict, init=False)
    poller: Poller | None = field(default=None, init=False)
    covered: dict[Venue, frozenset[Market]] = field(default_factory=dict, init=False)
    # Counters of the streams stopped by restarts, so the venue's figures never go back.
    retired_resyncs: Counter[Venue] = field(default_factory=Counter, init=False)
    retired_malformed: Counter[Venue] = field(default_factory=Counter, init=False)
    _first: Venue | None = field(default=None, init=False)
    _names: dict[Venue, list[str]] = field(default_factory=dict, init=False)
    _audits: dict[Venue, str] = field(default_factory=dict, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def follow(self, stop: asyncio.Event) -> list[Venue]:
        """Restart the venues whose tasks do not cover the markets now in real time; returns
        those restarted. A cancelled caller does not interrupt a restart begun: it is carried
        out to the end (a venue half stopped would stop collecting silently)."""
        return await asyncio.shield(self._follow(stop))

    async def _follow(self, stop: asyncio.Event) -> list[Venue]:
        async with self._lock:
            # Read under the lock: a restart waited for sees the state of its own time.
            settings, markets = self.settings(), self.realtime()
            # A venue with tasks left by a stop cut short is stopped (and started) again.
            leftover = (set(self._names) | set(self._audits)) - set(self.covered)
            restarted = sorted(set(venues_to_restart(self.covered, markets)) | leftover)
            for venue in restarted:
                await self._stop(venue)
                on = [m for m in markets if m.venue == venue]
                if on:
                    self._start(settings, self.sources[venue], on, stop)
            return restarted

    async def restart_audits(self, stop: asyncio.Event) -> None:
        """Every venue's audit again, at the (changed) AUDIT_INTERVAL; 0 stops them."""
        async with self._lock:
            for venue in list(self._audits):
                await self.tasks.end(self._audits.pop(venue))
            settings = self.settings()
            for venue, markets in self.covered.items():
                self._start_audit(settings, self.sources[venue], sorted(markets, key=str), stop)

    def set_levels(self, levels: int) -> None:
        """Book levels published and stored from the next book on (no reconnect needed)."""
        for streams in self.streams.values():
            for stream in streams:
                if isinstance(stream, VenueStream):
                    stream.levels = levels
        if self.poller is not None:
            self.poller.levels = levels

    def resyncs(self, venue: Venue) -> int:
        return self.retired_resyncs[venue] + sum(s.resyncs for s in self.streams.get(venue, ()))

    def malformed(self, venue: Venue) -> int:
        """Stream frames of the venue skipped as malformed."""
        current = sum(s.malformed for s in self.streams.get(venue, ()))
        return self.retired_malformed[venue] + current

    @property
    def malformed_total(self) -> int:
        """Stream frames skipped as malformed, every venue, those of stopped streams too."""
        current = sum(s.malformed for streams in self.streams.values() for s in streams)
        return sum(self.retired_malformed.values()) + current

    def _suffix(self, venue: Venue) -> str:
        if self._first is None:
            self._first = venue
        return "" if venue == self._first else f":{venue.key}"

    def _start(
        self,
        settings: CollectorSettings,
        rest: ExchangeRest,
        markets: list[Market],
        stop: asyncio.Event,
    ) -> None:
        venue, suffix = rest.venue, self._suffix(rest.venue)
        self.covered[venue] = frozenset(markets)
        self._start_audit(settings, rest, markets, stop)
        names = self._names.setdefault(venue, [])
        s = settings
        if s.realtime_mode is RealtimeMode.REST and isinstance(rest, BinanceRest):
            poller = self.poller = Poller(
                rest, markets, self.parts.store, self.parts.publisher, self.parts.catch_up,
                interval=s.realtime_interval, levels=s.orderbook_levels,
            )  # fmt: skip
            names.append("poller" + suffix)
            self.tasks.start(names[-1], lambda: poller.run(stop))
            return
        for name, stream in adapters.live_streams(s, rest, markets, self.parts):
            self.streams.setdefault(venue, []).append(stream)
            names.append("stream" + suffix + (f":{name}" if name else ""))
            self.tasks.start(names[-1], _runner(stream, stop))

    def _start_audit(
        self,
        settings: CollectorSettings,
        rest: ExchangeRest,
        markets: list[Market],
        stop: asyncio.Event,
    ) -> None:
        interval = settings.audit_interval
        if interval <= 0:
            return
        name = self._audits[rest.venue] = "audit" + self._suffix(rest.venue)
        self.tasks.start(
            name,
            lambda: audit.run_audits(
                rest,
                self.pool,
                markets,
                interval,
                stop,
                self.refusals,
                self.start_of,
                settings.broker_historical,
            ),
        )

    async def _stop(self, venue: Venue) -> None:
        # Out of step from the start, and each name dropped only as it is ended (`end`
        # forgets it even when cut short): a stop interrupted part way is finished by the
        # next `follow`.
        self.covered.pop(venue, None)
        names = self._names.get(venue, [])
        while names:
            await self.tasks.end(names.pop())
        self._names.pop(venue, None)
        if (audit_task := self._audits.pop(venue, None)) is not None:
            await self.tasks.end(audit_task)
        for stream in self.streams.pop(venue, []):
            self.retired_resyncs[venue] += stream.resyncs
            self.retired_malformed[venue] += stream.malformed
            self.parts.status.streams.pop(stream, None)
        if self.poller is not None and self.poller.rest.venue == venue:
            self.poller = None


def _runner(stream: LiveStream, stop: asyncio.Event) -> Callable[[], Coroutine[Any, Any, None]]:
    return lambda: stream.run(stop)
