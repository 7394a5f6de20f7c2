"""Periodic gap audit: holes between stored minutes are refetched from REST; minutes the
exchange does not have either are recorded in candle_gaps and never asked for again.

A recorded gap is not re-checked: it is recorded only for minutes the exchange itself left
out of an answer that covered them (holes between served rows), never for windows that
were not read, and exchange history does not change afterwards; asking again every audit
would spend request weight forever on minutes that stay missing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp
import asyncpg

from data_collector import backfill, candle_writes, paging, state_store, storage
from data_collector.exchange import ExchangeError, ExchangeRest
from linkora_core.backoff import pause
from linkora_core.db import DATABASE_DOWN
from linkora_core.markets import Market

log = logging.getLogger(__name__)


async def audit_market(
    rest: ExchangeRest,
    pool: asyncpg.Pool,
    market: Market,
    max_holes: int = 100,
    refusals: storage.Refusals | None = None,
    first_ms: int | None = None,
    historical: bool = False,
) -> tuple[int, int]:
    """Refetch the holes of one market; (candles restored, gap minutes recorded).

    Holes are between stored minutes and, given `first_ms` (START_DATE or the listing),
    before the oldest stored one.

    Rows PostgreSQL refuses are reported and skipped (not recorded as exchange gaps, so the
    next audit asks again). `historical`: each restored page is announced like a backfill
    chunk (candle_writes.copy_upsert)."""
    refusals = refusals if refusals is not None else storage.Refusals()

    def refused(row: candle_writes.StagedRow, error: asyncpg.PostgresError) -> None:
        refusals.report("audit", candle_writes.describe_row(row), error)

    restored = recorded = 0
    holes = await candle_writes.stored_holes(pool, market)
    if first_ms is not None:
        oldest = await candle_writes.first_open_ms(pool, market, first_ms)
        if (
            oldest is not None
            and oldest > first_ms
            and not await state_store.is_known_gap(pool, market, first_ms, oldest)
        ):
            holes.insert(0, (first_ms, oldest))
    for start, end in holes[:max_holes]:
        present: list[int] = []
        server_ms = await rest.server_time()
        for window in paging.windows(start, end - paging.MINUTE_MS, rest.page_minutes):
            rows = await rest.klines(
                market.symbol, window.start_ms, window.end_ms, rest.page_minutes
            )
            paging.check_page(rows, window)
            present += [int(row[0]) for row in rows]
            rows = backfill.finite_rows(rest, market, rows)
            if rows:
                async with pool.acquire() as connection:
                    records = candle_writes.staged_rows(market, rows, server_ms)
                    restored += await storage.write_isolating(
                        lambda batch: candle_writes.copy_upsert(
                            connection, batch, historical=historical
                        ),
                        records,
                        refused,
                    )
        missing = paging.missing_minutes(start, end, present)
        await state_store.record_gaps(pool, market, missing)
        recorded += sum((b - a) // paging.MINUTE_MS for a, b in missing)
    return restored, recorded


async def run_audits(
    rest: ExchangeRest,
    pool: asyncpg.Pool,
    markets: list[Market],
    interval: float,
    stop: asyncio.Event,
    refusals: storage.Refusals | None = None,
    start_of: Callable[[Market], int] | None = None,
    historical: bool = False,
) -> None:
    """Audit every market each `interval` seconds until `stop` is set; with `start_of` (a
    market's own start or START_DATE), from there or the market's listing on."""
    while await pause(interval, stop):
        started = time.monotonic()
        for market in markets:
            try:
                first = await _first_ms(
                    pool, market, None if start_of is None else start_of(market)
                )
                restored, recorded = await audit_market(
                    rest, pool, market, refusals=refusals, first_ms=first, historical=historical
                )
            except (
                ExchangeError, aiohttp.ClientError, ValueError, asyncpg.PostgresError,
                *DATABASE_DOWN,
            ) as error:  # fmt: skip
                log.warning("gap audit of %s failed: %r", market, error)
                continue
            if restored or recorded:
                log.info(
                    "gap audit %s: %d candles restored, %d exchange-missing minutes recorded",
                    market,
                    restored,
                    recorded,
                )
        log.debug("gap audit took %.1fs", time.monotonic() - started)


async def _first_ms(pool: asyncpg.Pool, market: Market, start_ms: int | None) -> int | None:
    listed = await state_store.listed_at_ms(pool, market)
    if start_ms is None or listed is None:
        return None
    return max(start_ms, listed)
