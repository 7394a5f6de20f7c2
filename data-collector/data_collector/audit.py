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

import aiohttp
import asyncpg

from data_collector import backfill, candle_writes, paging, state_store, storage
from data_collector.rest import BinanceError, BinanceRest
from linkora_core.backoff import pause
from linkora_core.db import DATABASE_DOWN

log = logging.getLogger(__name__)


async def audit_symbol(
    rest: BinanceRest,
    pool: asyncpg.Pool,
    symbol: str,
    max_holes: int = 100,
    refusals: storage.Refusals | None = None,
    first_ms: int | None = None,
) -> tuple[int, int]:
    """Refetch the holes of one symbol; (candles restored, gap minutes recorded).

    Holes are between stored minutes and, given `first_ms` (START_DATE or the listing),
    before the oldest stored one.

    Rows PostgreSQL refuses are reported and skipped (not recorded as exchange gaps, so the
    next audit asks again)."""
    refusals = refusals if refusals is not None else storage.Refusals()

    def refused(row: candle_writes.StagedRow, error: asyncpg.PostgresError) -> None:
        refusals.report("audit", f"{symbol} candle at {row[1]}", error)

    restored = recorded = 0
    holes = await candle_writes.stored_holes(pool, symbol)
    if first_ms is not None:
        oldest = await candle_writes.first_open_ms(pool, symbol, first_ms)
        if (
            oldest is not None
            and oldest > first_ms
            and not await state_store.is_known_gap(pool, symbol, first_ms, oldest)
        ):
            holes.insert(0, (first_ms, oldest))
    for start, end in holes[:max_holes]:
        present: list[int] = []
        server_ms = await rest.server_time()
        for window in paging.windows(start, end - paging.MINUTE_MS):
            rows = await rest.klines(symbol, window.start_ms, window.end_ms)
            paging.check_page(rows, window)
            present += [int(row[0]) for row in rows]
            rows = backfill.finite_rows(rest, symbol, rows)
            if rows:
                async with pool.acquire() as connection:
                    records = candle_writes.staged_rows(symbol, rows, server_ms)
                    restored += await storage.write_isolating(
                        lambda batch: candle_writes.copy_upsert(connection, batch),
                        records,
                        refused,
                    )
        missing = paging.missing_minutes(start, end, present)
        await state_store.record_gaps(pool, symbol, missing)
        recorded += sum((b - a) // paging.MINUTE_MS for a, b in missing)
    return restored, recorded


async def run_audits(
    rest: BinanceRest,
    pool: asyncpg.Pool,
    symbols: list[str],
    interval: float,
    stop: asyncio.Event,
    refusals: storage.Refusals | None = None,
    start_ms: int | None = None,
) -> None:
    """Audit every symbol each `interval` seconds until `stop` is set; with `start_ms`
    (START_DATE), from there or the symbol's listing on."""
    while await pause(interval, stop):
        started = time.monotonic()
        for symbol in symbols:
            try:
                first = await _first_ms(pool, symbol, start_ms)
                restored, recorded = await audit_symbol(
                    rest, pool, symbol, refusals=refusals, first_ms=first
                )
            except (
                BinanceError, aiohttp.ClientError, ValueError, asyncpg.PostgresError, *DATABASE_DOWN
            ) as error:  # fmt: skip
                log.warning("gap audit of %s failed: %r", symbol, error)
                continue
            if restored or recorded:
                log.info(
                    "gap audit %s: %d candles restored, %d exchange-missing minutes recorded",
                    symbol,
                    restored,
                    recorded,
                )
        log.debug("gap audit took %.1fs", time.monotonic() - started)


async def _first_ms(pool: asyncpg.Pool, symbol: str, start_ms: int | None) -> int | None:
    listed = await state_store.listed_at_ms(pool, symbol)
    if start_ms is None or listed is None:
        return None
    return max(start_ms, listed)
