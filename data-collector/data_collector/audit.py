"""Periodic gap audit: holes between stored minutes are refetched from REST; minutes the
exchange does not have either are recorded in candle_gaps and never asked for again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp
import asyncpg

from data_collector import candle_store, paging, state_store
from data_collector.rest import BinanceError, BinanceRest
from data_collector.types import DB_DOWN

log = logging.getLogger(__name__)


async def audit_symbol(
    rest: BinanceRest, pool: asyncpg.Pool, symbol: str, max_holes: int = 100
) -> tuple[int, int]:
    """Refetch the holes of one symbol; (candles restored, gap minutes recorded)."""
    restored = recorded = 0
    for start, end in (await candle_store.stored_holes(pool, symbol))[:max_holes]:
        present: list[int] = []
        server_ms = await rest.server_time()
        for window in paging.windows(start, end - paging.MINUTE_MS):
            rows = await rest.klines(symbol, window.start_ms, window.end_ms)
            paging.check_page(rows, window)
            if rows:
                async with pool.acquire() as connection:
                    records = candle_store.staged_rows(symbol, rows, server_ms)
                    restored += await candle_store.copy_upsert(connection, records)
            present += [int(row[0]) for row in rows]
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
) -> None:
    """Audit every symbol each `interval` seconds until `stop` is set."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        started = time.monotonic()
        for symbol in symbols:
            try:
                restored, recorded = await audit_symbol(rest, pool, symbol)
            except (BinanceError, aiohttp.ClientError, ValueError, *DB_DOWN) as error:
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
