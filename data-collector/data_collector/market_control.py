"""The collector following the desired state at runtime. On every wake-up of its
`ControlWatch` (a NOTIFY, or 2 s at the latest) the desired markets and runtime settings are
read and the collector is brought to them (control_reconcile.py):

- a market added gets its collector_state row and is backfilled at once on its own writer,
  its progress published; then its venue's real-time tasks restart with it;
- a market removed (or of an exchange disabled) has its backfill cancelled and its venue's
  tasks restarted without it (stopped when none is left); its phase becomes `removed` and a
  last progress report says so. Its stored data stays;
- a market still desired whose lease this instance lets go of (or lost) is stopped the same
  way, but not marked removed: once its venue's tasks run without it, what is buffered is
  written and its lease is deleted, for the instance taking it over (leases.py);
- book levels, the book storage rate and the audit interval are applied where they belong.

Only the desired markets this instance holds a lease of are collected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import asyncpg

from data_collector import control_reconcile, progress_reports, state_store
from data_collector.control_reconcile import Starts
from data_collector.settings import SUPPORTED_VENUES
from linkora_core import control_store
from linkora_core.backoff import RetryPolicy
from linkora_core.db import DATABASE_DOWN
from linkora_core.markets import Market

if TYPE_CHECKING:
    from data_collector.collector import Collector

log = logging.getLogger(__name__)

READ_FAILED = (*DATABASE_DOWN, asyncpg.PostgresError, ValueError)
ADD_RETRY = RetryPolicy(first=1.0, cap=60.0)  # an added market whose collection failed


def uncollectable(market: Market) -> str:
    supported = ", ".join(venue.key for venue in SUPPORTED_VENUES)
    return f"no collector adapter for the venue of {market}; supported venues: {supported}"


@dataclass(eq=False)
class MarketControl:
    collector: Collector
    # Markets added at runtime, backfilling (then going live) in their own task.
    adding: dict[Market, asyncio.Task[None]] = field(default_factory=dict, init=False)
    # Markets stopped, to be marked removed (and reported) once their venues are restarted.
    removing: dict[Market, str] = field(default_factory=dict, init=False)
    # Markets stopped that another instance takes over, handed over once their venues are
    # restarted and what they buffered is written.
    handing: set[Market] = field(default_factory=set, init=False)

    async def follow(self, stop: asyncio.Event) -> None:
        """Read the desired state and follow it, on every wake-up until `stop`."""
        c = self.collector
        while True:
            try:
                desired = await control_store.desired_markets(c.pool)
                runtime = await control_store.runtime_settings(c.pool)
                if c.leases.unleased(d.market for d in desired):
                    await c.leases.beat()
            except READ_FAILED as error:
                log.warning("desired state not read (%r); trying again", error)
            else:
                await self.reconcile({d.market: d.start_ms for d in desired}, runtime)
            if not await c.watch.wait(stop):
                return

    async def reconcile(self, desired: Starts, runtime: Mapping[str, int | float]) -> None:
        c = self.collector
        leased = c.leases.mine
        collected = {m: start for m, start in desired.items() if m in leased}
        changes = control_reconcile.market_changes(collected, c.wanted)
        if changes.to_remove:
            why = await self._why_removed(desired)
            for market in changes.to_remove:
                await self._stop(market)
                if market in desired and market not in leased:
                    self.handing.add(market)
                else:
                    self.removing[market] = why(market)
        # On every pass, not only after a change: a restart that failed before is carried out
        # now (nothing is restarted when every venue is in step).
        await c.follow_live()
        # Removed while being handed over, or after its holder went away: nobody else will
        # record it (an instance only records the markets it collected).
        gone = [m for m in self.handing if m not in desired] + c.leases.take_abandoned()
        if gone:
            why = await self._why_removed(desired)
            for market in gone:
                self.handing.discard(market)
                if market not in c.wanted:
                    self.removing.setdefault(market, why(market))
        for market, why_removed in list(self.removing.items()):
            await self._mark_removed(market, why_removed)
            del self.removing[market]
        if self.handing:
            await self._hand_over()
        for market in changes.to_add:
            self.handing.discard(market)  # leased again before its hand-over was done
            await self._add(market, collected[market])
        await self.apply_settings(runtime)

    async def apply_settings(self, runtime: Mapping[str, int | float]) -> None:
        c, env = self.collector, self.collector.environment
        base = control_reconcile.Tunables(
            env.orderbook_levels, env.orderbook_store_interval, env.audit_interval
        )
        new = control_reconcile.tunables(base, runtime)
        names = control_reconcile.changed(c.tunables, new)
        if not names:
            return
        c.settings = env.model_copy(
            update={
                "orderbook_levels": new.orderbook_levels,
                "orderbook_store_interval": new.orderbook_store_interval,
                "audit_interval": new.audit_interval,
            }
        )
        if "orderbook_levels" in names:
            c.live.set_levels(new.orderbook_levels)
        if "orderbook_store_interval" in names:
            c.store.set_interval(new.orderbook_store_interval)
        if "audit_interval" in names:
            await c.live.restart_audits(c.stop)
        # Recorded once applied: a failure part way is applied again on the next pass.
        c.tunables = new
        log.info("runtime settings applied: %s", new)

    async def close(self) -> None:
        tasks = list(self.adding.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def collect_alone(self, market: Market) -> None:
        """Backfill `market` (collected) on its own writer, then take it live, in a task."""
        task = asyncio.create_task(self._collect(market), name=f"add:{market}")
        self.adding[market] = task
        task.add_done_callback(partial(self._ended, market))

    async def _add(self, market: Market, start: int | None) -> None:
        c = self.collector
        c.wanted[market] = start
        c.status.of(market)
        log.info("collecting %s from now on", market)
        if market.venue in c.sources:
            self.collect_alone(market)
            return
        message = uncollectable(market)
        log.error("%s", message)
        try:
            await state_store.ensure(c.pool, [market])
        except DATABASE_DOWN:
            log.warning("could not record the state of %s", market)
        await c.set_phase(market, "error", message)
        c.publisher.progress(progress_reports.ended(market, None, "error", message))

    async def _collect(self, market: Market) -> None:
        """Backfill `market`, then take it live; an unexpected failure is recorded as its
        error (database, progress) and the whole is tried again after a growing delay."""
        c = self.collector
        backoff = ADD_RETRY.backoff()
        while True:
            try:
                await c.backfill_all([market])
                status = c.status.markets.get(market)
                if status is not None and status.phase == "backfill":
                    await c.set_phase(market, "realtime")
                    await c.follow_live()
                return
            # Any error: this task is no BackgroundTasks one, and a bug must not end the
            # market's collection for good (the backfill handles the exchange's own errors).
            except Exception as error:
                delay = backoff.next_delay()
                why = f"{type(error).__name__}: {error}"
                log.error("collecting %s failed; retry in %.0fs", market, delay, exc_info=error)
                await self._record_error(market, why)
                if (status := c.status.markets.get(market)) is not None:
                    report = progress_reports.ended(market, status.progress, "error", why)
                    c.publisher.progress(report)
                await asyncio.sleep(delay)

    async def _record_error(self, market: Market, why: str) -> None:
        c = self.collector
        try:
            await state_store.ensure(c.pool, [market])  # it may have failed before its row
        except DATABASE_DOWN:
            log.warning("could not record the state of %s", market)
        await c.set_phase(market, "error", why)

    def _ended(self, market: Market, task: asyncio.Task[None]) -> None:
        if self.adding.get(market) is task:
            del self.adding[market]

    async def _stop(self, market: Market) -> None:
        """Stop collecting `market`: its backfill is cancelled, its pages not yet written
        are dropped."""
        c = self.collector
        running = [self.adding.pop(market, None), c.runs.forget(market)]
        tasks = [task for task in running if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        del c.wanted[market]  # once stopped: until then a next pass stops it again

    async def _mark_removed(self, market: Market, why: str) -> None:
        c = self.collector
        status = c.status.markets.pop(market, None)
        # Its venue's streams are restarted without it by now: what they buffered before
        # is dropped, so no write of it follows the phase.
        await c.store.forget(market)
        try:
            await state_store.set_phase(c.pool, market, "removed")
        except DATABASE_DOWN:
            log.warning("could not record that %s was removed", market)
        progress = None if status is None else status.progress
        c.publisher.progress(progress_reports.ended(market, progress, "removed", why))
        log.info("stopped collecting %s: %s", market, why)

    async def _hand_over(self) -> None:
        """Write what the markets handed over buffered, then let their leases go: the
        instance taking one over starts from its newest stored minute."""
        c = self.collector
        covered = set().union(*c.live.covered.values())
        stopped = {m for m in self.handing if m not in covered}  # else its restart failed
        if not stopped:
            return
        try:
            await c.store.flush()
        except READ_FAILED as error:
            log.warning("buffered data not written (%r); hand-over waits", error)
            return
        for market in sorted(stopped):
            c.status.markets.pop(market, None)
            await c.store.forget(market)  # nothing is left; a late book or candle is dropped
            log.info("handed %s over to another collector", market)
        self.handing -= stopped
        try:
            await c.leases.let_go()
        except READ_FAILED as error:
            log.warning("leases not let go of yet (%r); the next beat does", error)

    async def _why_removed(self, desired: Starts) -> Callable[[Market], str]:
        try:
            disabled = await control_store.disabled_exchanges(self.collector.pool)
        except READ_FAILED:
            disabled = set()

        def why(market: Market) -> str:
            if market in desired:
                return "its start date changed: backfilled again from it"
            if market.venue.exchange in disabled:
                return f"exchange {market.venue.exchange} disabled"
            return "removed from the collected markets"

        return why
