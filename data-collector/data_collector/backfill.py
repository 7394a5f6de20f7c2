"""Historical 1m klines: pages fetched in parallel, written in order by one bulk writer.

Fetchers walk each market's span in 1000-minute windows (several in flight) and hand the
pages, in time order, to a single `BulkWriter`, which COPYs batches of pages into a staging
table and upserts them. One writer keeps each market's stored minutes a gap-free prefix of
its span, so after a crash the newest stored closed minute is a safe place to resume.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from data_collector import candle_writes, paging, state_store, storage
from data_collector.candle_writes import StagedRow
from data_collector.exchange import ExchangeRest
from data_collector.progress import Progress
from linkora_core.backoff import RetryPolicy
from linkora_core.db import DATABASE_DOWN
from linkora_core.markets import Market

log = logging.getLogger(__name__)

# A batch of backfilled candles waits for the database: 10 s at most between tries, since
# the fetchers are held back (full queue) until it is written.
WRITE_RETRY = RetryPolicy(first=0.5, cap=10.0)


@dataclass(slots=True)
class Page:
    market: Market
    window: paging.Window
    rows: list[list[Any]]
    server_ms: int  # server time taken before the request: earlier close times are final
    holes: list[tuple[int, int]] = field(default_factory=list)

    @property
    def last_closed_ms(self) -> int | None:
        for row in reversed(self.rows):
            if row[6] < self.server_ms:
                return int(row[0])
        return None


async def fetch_span(
    rest: ExchangeRest,
    market: Market,
    start_ms: int,
    *,
    concurrency: int = 4,
    previous_open_ms: int | None = None,
    server_ms: int | None = None,
    end_ms: int | None = None,
) -> AsyncIterator[Page]:
    """Every kline from start_ms up to the server's current minute (or the open time
    `end_ms`), page by page in order.

    Where the source finds the next kline that exists (Binance does), an empty window
    triggers one probe, so long outages and the end of a delisted market's data are jumped
    over instead of walked a page at a time.
    """
    now = await rest.server_time() if server_ms is None else server_ms
    until = now if end_ms is None else min(now, end_ms)  # the last open time asked for
    pending: deque[tuple[paging.Window, asyncio.Task[list[list[Any]]]]] = deque()
    plan = iter(paging.windows(start_ms, until, rest.page_minutes))
    last = previous_open_ms
    try:
        while True:
            while len(pending) < concurrency and (window := next(plan, None)) is not None:
                task = asyncio.create_task(_fetch_window(rest, market, window))
                pending.append((window, task))
            if not pending:
                return
            window, task = pending.popleft()
            rows = await task
            page = Page(
                market, window, finite_rows(rest, market, rows), now, paging.holes(last, rows)
            )
            if rows:
                last = int(rows[-1][0])
                yield page
                continue
            planned_end = pending[-1][0].end_ms if pending else window.end_ms
            if planned_end >= paging.floor_minute(until) or not rest.finds_next:
                yield page
                continue
            # Where does data resume after this empty window? The windows in flight are
            # only dropped where the exchange says they are empty too, never unread.
            after = window.end_ms + paging.MINUTE_MS
            probe = await rest.klines(market.symbol, after, until, limit=1)
            resume = int(probe[0][0]) if probe else paging.floor_minute(until) + paging.MINUTE_MS
            if resume <= after:
                yield page
                continue
            while pending and pending[0][0].end_ms < resume:
                pending.popleft()[1].cancel()
            if pending:
                # Data resumes inside a window in flight: its rows are read as usual.
                yield Page(
                    market,
                    paging.Window(window.start_ms, pending[0][0].start_ms - paging.MINUTE_MS),
                    [],
                    now,
                )
                continue
            yield Page(market, paging.Window(window.start_ms, resume - paging.MINUTE_MS), [], now)
            if not probe:
                return
            plan = iter(paging.windows(resume, until, rest.page_minutes))
    finally:
        for _, task in pending:
            task.cancel()


def finite_rows(rest: ExchangeRest, market: Market, rows: list[list[Any]]) -> list[list[Any]]:
    """The rows without non-finite decimal text, the others counted and logged. A refused
    minute is not an exchange gap (holes are found among all the rows): the audit asks again."""
    good = []
    for row in rows:
        if paging.finite(row):
            good.append(row)
        else:
            rest.refuse(f"{market} kline at {row[0]} has non-finite decimal text")
    return good


async def _fetch_window(
    rest: ExchangeRest, market: Market, window: paging.Window
) -> list[list[Any]]:
    rows = await rest.klines(market.symbol, window.start_ms, window.end_ms, rest.page_minutes)
    paging.check_page(rows, window)
    return rows


class _Written:
    """A place in a writer's queue: set once every page queued before it is written."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = asyncio.Event()


class BulkWriter:
    """Consumes pages from all markets and writes them in batches, in arrival order."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        batch_rows: int = 50_000,
        queue_pages: int = 64,
        on_closed: Callable[[Market, int], None] | None = None,
        refusals: storage.Refusals | None = None,
        historical: bool = False,
    ) -> None:
        self._pool = pool
        self._historical = historical  # announce each committed chunk (candle_writes)
        self.refusals = refusals if refusals is not None else storage.Refusals()
        self._on_closed = on_closed
        self._batch_rows = batch_rows
        self.queue: asyncio.Queue[Page | _Written | None] = asyncio.Queue(queue_pages)
        self.progress: dict[Market, Progress] = {}
        self._forgotten: set[Market] = set()
        self.rows_changed = 0
        self.failures = 0
        self._last_report = 0.0

    async def put(self, page: Page) -> None:
        await self.queue.put(page)

    async def written(self) -> None:
        """Until every page put before this call is stored (or refused): a market's backfill
        is done only then."""
        marker = _Written()
        await self.queue.put(marker)
        await marker.done.wait()

    def forget(self, market: Market) -> None:
        """Skip the market's pages from now on (it is no longer collected)."""
        self._forgotten.add(market)
        self.progress.pop(market, None)

    async def close(self) -> None:
        """Write everything queued, then let `run` return."""
        await self.queue.put(None)

    async def run(self) -> None:
        finished = False
        while not finished:
            item = await self.queue.get()
            pages: list[Page] = []
            marker: _Written | None = None
            rows = 0
            while True:
                if item is None:
                    finished = True
                    break
                if isinstance(item, _Written):
                    marker = item
                    break
                pages.append(item)
                rows += len(item.rows)
                if rows >= self._batch_rows or self.queue.empty():
                    break
                item = self.queue.get_nowait()
            pages = [page for page in pages if page.market not in self._forgotten]
            if pages:
                await self._write_retrying(pages)
            if marker is not None:
                marker.done.set()

    async def _write_retrying(self, pages: list[Page]) -> None:
        # No stop event: the backfill closes its writers on stop and cancels one still
        # retrying after FLUSH_SECONDS.
        backoff = WRITE_RETRY.backoff()
        while True:
            try:
                await self._write(pages)
                return
            except asyncpg.PostgresError as error:
                if not storage.transient(error):
                    # Refused bookkeeping (gaps, progress): the candles themselves are stored.
                    names = sorted({str(page.market) for page in pages})
                    log.error("backfill bookkeeping of %s refused: %r", names, error)
                    self.failures += 1
                    return
                log.warning("writing candles failed (%r); retry in %.1fs", error, backoff.upcoming)
            except DATABASE_DOWN as error:
                log.warning("database unavailable while writing candles (%r); retry", error)
            await backoff.wait()

    def _refused(self, row: StagedRow, error: asyncpg.PostgresError) -> None:
        self.refusals.report("backfill", candle_writes.describe_row(row), error)

    async def _write(self, pages: list[Page]) -> None:
        records: list[StagedRow] = []
        for page in pages:
            records.extend(candle_writes.staged_rows(page.market, page.rows, page.server_ms))
        async with self._pool.acquire() as connection:
            self.rows_changed += await storage.write_isolating(
                lambda batch: candle_writes.copy_upsert(
                    connection, batch, historical=self._historical
                ),
                records,
                self._refused,
            )
            now = time.monotonic()
            touched: dict[Market, int | None] = {}
            for page in pages:
                if page.holes:
                    await state_store.record_gaps(connection, page.market, page.holes)
                progress = self.progress.get(page.market)
                if progress is not None:
                    minutes = paging.minutes_between(page.window.start_ms, page.window.end_ms)
                    progress.advance(minutes, len(page.rows), now)
                closed = page.last_closed_ms
                if closed is not None or page.market not in touched:
                    touched[page.market] = (
                        closed if closed is not None else touched.get(page.market)
                    )
            for market, closed in touched.items():
                if closed is not None:
                    await state_store.advance_closed(connection, market, closed)
                    if self._on_closed is not None:
                        self._on_closed(market, closed)
                progress = self.progress.get(market)
                if progress is not None:
                    await state_store.save_progress(connection, progress)
        if now - self._last_report >= 5.0:
            self._last_report = now
            for progress in self.progress.values():
                if not progress.finished:
                    log.info("backfill %s", progress.describe())
