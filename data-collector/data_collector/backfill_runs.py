"""The collector's backfills: each market from its start (its own start date, else START_DATE,
or its listing, or the newest stored minute) to now, fetched per market and written by bulk
writers, its progress ending in a `done` (or `error`) report on `bus.PROGRESS`.

The initial markets backfill together on BACKFILL_WRITERS writers; a market added at runtime
backfills alone on its own. A market removed meanwhile has its task cancelled and its pages
not yet written dropped: that is no failure of the others."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from data_collector import candle_writes, paging, progress_reports, state_store
from data_collector.backfill import BulkWriter, fetch_span
from data_collector.exchange import ExchangeBlocked, ExchangeError, ExchangeRequestError
from data_collector.progress import Progress
from linkora_core.backoff import RetryPolicy
from linkora_core.db import DATABASE_DOWN
from linkora_core.markets import Market, Venue

if TYPE_CHECKING:
    from data_collector.collector import Collector

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
# A failed backfill starts its market over, spending request weight again: at most once a
# minute while the exchange or the database stays away.
BACKFILL_RETRY = RetryPolicy(first=1.0, cap=60.0)


@dataclass(eq=False)
class BackfillRuns:
    collector: Collector
    running: dict[Market, asyncio.Task[None]] = field(default_factory=dict, init=False)
    writers: set[BulkWriter] = field(default_factory=set, init=False)
    prepared: set[Venue] = field(default_factory=set, init=False)  # sources prepared
    _preparing: dict[Venue, asyncio.Lock] = field(default_factory=dict, init=False)

    async def backfill(self, markets: Sequence[Market]) -> None:
        """Backfill `markets` (those still collected, with a source) until each is done."""
        c, s = self.collector, self.collector.settings
        chosen = [m for m in markets if m in c.wanted and m.venue in c.sources]
        if not chosen:
            return
        # Several writers let PostgreSQL use more than one core; each market sticks to one
        # writer, so its pages are still stored in order.
        writers = [
            BulkWriter(
                c.pool,
                s.backfill_batch_rows,
                on_closed=c.closed_at,
                refusals=c.refusals,
                historical=s.broker_historical,
            )
            for _ in range(min(s.backfill_writers, len(chosen)))
        ]
        self.writers.update(writers)
        # Writers live only for the backfill; one that ends early (a bug) must not leave the
        # fetchers waiting on its full queue: the backfill stops and raises what it raised.
        tasks = [asyncio.create_task(writer.run()) for writer in writers]
        fetchers = {
            m: asyncio.create_task(self._market(m, writers[i % len(writers)]))
            for i, m in enumerate(chosen)
        }
        self.running.update(fetchers)
        fetching = asyncio.ensure_future(_settled(fetchers.values()))
        waited: list[asyncio.Future[Any]] = [fetching, *tasks]
        try:
            await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
            if fetching.done():
                fetching.result()
            else:
                log.error("a backfill writer stopped while fetching; stopping the backfill")
        finally:
            fetching.cancel()
            for fetcher in fetchers.values():
                fetcher.cancel()
            await asyncio.gather(fetching, *fetchers.values(), return_exceptions=True)
            for market, fetcher in fetchers.items():
                if self.running.get(market) is fetcher:
                    del self.running[market]
            try:
                async with asyncio.timeout(FLUSH_SECONDS):
                    for writer, task in zip(writers, tasks, strict=True):
                        if not task.done():
                            await writer.close()
                    await asyncio.shield(asyncio.gather(*tasks))
            except TimeoutError:
                for task in tasks:
                    task.cancel()
            self.writers.difference_update(writers)
        log.info("backfill done: %d rows changed", sum(w.rows_changed for w in writers))

    def forget(self, market: Market) -> asyncio.Task[None] | None:
        """Drop the market's pages not yet written; its backfill task, to cancel."""
        for writer in self.writers:
            writer.forget(market)
        return self.running.pop(market, None)

    async def prepare(self, venue: Venue) -> None:
        """The venue's source prepared once, by the first backfill of one of its markets."""
        async with self._preparing.setdefault(venue, asyncio.Lock()):
            if venue not in self.prepared:
                rest = self.collector.sources[venue]
                await rest.prepare()
                self.prepared.add(venue)
                log.info(
                    "%s: request limit %d/window; pacing at %d",
                    venue, rest.budget.limit, rest.budget.allowance,
                )  # fmt: skip

    async def _market(self, market: Market, writer: BulkWriter) -> None:
        c = self.collector
        backoff = BACKFILL_RETRY.backoff()
        while True:
            try:
                progress = await self._once(market, writer)
            except (ExchangeBlocked, ExchangeRequestError) as error:
                log.error("backfill of %s stopped: %s", market, error)
                await c.set_phase(market, "error", str(error))
                status = c.status.markets.get(market)
                report = progress_reports.ended(
                    market, None if status is None else status.progress, "error", str(error)
                )
                c.publisher.progress(report)
                return
            except (ExchangeError, aiohttp.ClientError, ValueError, *DATABASE_DOWN) as error:
                delay = backoff.next_delay()
                log.warning("backfill of %s failed (%r); retry in %.0fs", market, error, delay)
                await asyncio.sleep(delay)
            else:
                await writer.written()  # done means stored, not only fetched
                c.publisher.progress(progress_reports.done(progress))
                return

    async def _once(self, market: Market, writer: BulkWriter) -> Progress:
        c = self.collector
        await state_store.ensure(c.pool, [market])
        await c.set_phase(market, "backfill")
        await self.prepare(market.venue)
        rest = c.sources[market.venue]
        listed = await state_store.listed_at_ms(c.pool, market)
        if listed is None:
            listed = await rest.listing_ms(market.symbol)
            if listed is None:
                raise ExchangeRequestError(200, None, f"no klines at all for {market}")
            await state_store.set_listed_at(c.pool, market, listed)
        first = max(c.start_of(market), listed)
        concurrency = c.settings.backfill_concurrency
        # The span from the start (or the listing) on: minutes before the oldest stored one
        # (START_DATE lowered, a first batch lost) are fetched before resuming at the newest.
        oldest = await candle_writes.first_open_ms(c.pool, market, first)
        if oldest is not None and oldest > first:
            log.info("backfill %s from %d up to the oldest stored minute %d", market, first, oldest)
            async for page in fetch_span(
                rest, market, first, concurrency=concurrency, end_ms=oldest - paging.MINUTE_MS
            ):
                await writer.put(page)
        last = await candle_writes.last_closed_ms(c.pool, market)
        start = first if last is None or last < first else last + paging.MINUTE_MS
        server_ms = await rest.server_time()
        progress = Progress(market, from_ms=first)
        progress.start(
            paging.minutes_between(first, server_ms),
            paging.minutes_between(first, start - paging.MINUTE_MS),
            time.monotonic(),
        )
        writer.progress[market] = progress
        if (status := c.status.markets.get(market)) is not None:
            status.progress = progress
        # The first report at once (a short backfill may end before the next tick).
        c.publisher.progress(progress_reports.running(progress))
        log.info(
            "backfill %s from %d (%d minutes to go)", market, start, progress.total - progress.done
        )
        async for page in fetch_span(
            rest, market, start, concurrency=concurrency,
            previous_open_ms=last if last is not None and last >= first else None,
            server_ms=server_ms,
        ):  # fmt: skip
            await writer.put(page)
        progress.finished = True
        return progress


async def _settled(tasks: Collection[asyncio.Task[None]]) -> None:
    """Until every task has ended; the first error among them is raised (a cancelled task,
    a market removed, is none)."""
    if not tasks:
        return
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
