"""Storing a market's rollups: which smaller timeframe each one is aggregated from, and the
pass that stores every closed bucket not stored yet (and re-stores buckets whose minutes
changed), a bounded span per statement.

Two writers run it: the api-server's rollup maintainer, and the collector's backfill inside
the transaction that writes the minutes. They take the market's advisory lock first
(`lock_market` in a transaction, `hold_market` around autocommit statements), so one pass at a
time reads a market's frontiers and stores past them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from types import MappingProxyType
from typing import Final

import asyncpg

from linkora_core import rollup_sql
from linkora_core.db import Executor
from linkora_core.markets import Market
from linkora_core.timeframes import Timeframe

TF = Timeframe
# The smaller timeframe each one is aggregated from; every bucket is a whole number of them.
SOURCE: Final[Mapping[Timeframe, Timeframe]] = MappingProxyType(
    {
        TF.MINUTE_3: TF.MINUTE_1,
        TF.MINUTE_5: TF.MINUTE_1,
        TF.MINUTE_15: TF.MINUTE_5,
        TF.MINUTE_30: TF.MINUTE_15,
        TF.MINUTE_45: TF.MINUTE_15,
        TF.HOUR_1: TF.MINUTE_15,
        TF.HOUR_2: TF.HOUR_1,
        TF.HOUR_3: TF.HOUR_1,
        TF.HOUR_4: TF.HOUR_1,
        TF.DAY_1: TF.HOUR_1,
        TF.WEEK_1: TF.DAY_1,
        TF.MONTH_1: TF.DAY_1,
    }
)
# Timeframes in an order where each comes after its source.
ROLLED: Final = tuple(SOURCE)

# One statement aggregates at most about this many source rows (50-150 ms of PostgreSQL time
# on 2 cores), so the catch-up of a long history is many short statements.
STATEMENT_ROWS = 20_000
# Advisory lock space of the per-market rollup lock ("Lk_r" as a 32-bit key).
_LOCK_SPACE = 0x4C6B5F72

Range = tuple[int, int]  # [lo, hi) in epoch ms


def chain(timeframe: Timeframe) -> list[Timeframe]:
    """The timeframe and every source below it, down to (excluding) 1m."""
    out: list[Timeframe] = []
    while timeframe is not Timeframe.MINUTE_1:
        out.append(timeframe)
        timeframe = SOURCE[timeframe]
    return out


def merge(ranges: Sequence[Range]) -> list[Range]:
    """Overlapping or adjacent ranges as one."""
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _chunks(timeframe: Timeframe, lo: int, hi: int) -> list[Range]:
    """[lo, hi) cut on `timeframe` buckets into spans of about STATEMENT_ROWS source rows."""
    width = SOURCE[timeframe].width_ms
    assert width is not None  # no timeframe is built from months
    span = STATEMENT_ROWS * width
    out = []
    while lo < hi:
        cut = timeframe.bucket_start(lo + span)
        cut = min(hi, cut if cut > lo else timeframe.next_start(lo))
        out.append((lo, cut))
        lo = cut
    return out


def _lock_name(market: Market) -> str:
    # Binance spot keeps the bare symbol it was locked by before venues existed, so an
    # api-server of the previous release and a new collector still exclude each other.
    return str(market)


async def lock_market(connection: asyncpg.Connection, market: Market) -> None:
    """Take the market's rollup lock until the current transaction ends."""
    await connection.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_SPACE, _lock_name(market)
    )


@contextlib.asynccontextmanager
async def hold_market(connection: asyncpg.Connection, market: Market) -> AsyncIterator[None]:
    """Hold the market's rollup lock (session level) for the statements of the block."""
    name = _lock_name(market)
    await connection.execute("SELECT pg_advisory_lock($1, hashtext($2))", _LOCK_SPACE, name)
    try:
        yield
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1, hashtext($2))", _LOCK_SPACE, name)


async def roll_market(
    db: Executor,
    market: Market,
    dirty: Sequence[Range] = (),
    timeframes: Sequence[Timeframe] = ROLLED,
    *,
    advance: bool = True,
) -> int:
    """Store every closed bucket of `market` not stored yet, and re-store the closed buckets
    holding any minute of the `dirty` ranges, for each of `timeframes` (in an order where
    each comes after its source, whose stored buckets it is aggregated from). Returns how many
    rollup rows were written. The caller holds the market's lock.

    `advance=False` re-stores the dirty buckets before each frontier only: what lies past it
    is left to a pass that advances (which the caller must then run)."""
    horizon = await rollup_sql.closed_horizon(db, market)
    if horizon is None:
        return 0
    first = await rollup_sql.first_minute(db, market)
    frontiers = await rollup_sql.rolled_until(db, market, timeframes)
    written = 0
    for timeframe in timeframes:
        end = timeframe.bucket_start(horizon)
        frontier = frontiers[timeframe]
        start = frontier if frontier is not None else timeframe.bucket_start(first or horizon)
        ranges = [(start, end)] if start < end and advance else []
        until = end if advance else min(end, start)
        for lo, hi in dirty:
            lo = timeframe.bucket_start(lo)
            hi = min(until, timeframe.next_start(hi - 1))
            if lo < hi:
                ranges.append((lo, hi))
        for lo, hi in merge(ranges):
            for chunk_lo, chunk_hi in _chunks(timeframe, lo, hi):
                # Past the frontier nothing is stored yet: a plain insert, nothing to drop.
                replace = frontier is not None and chunk_lo < frontier
                written += await rollup_sql.roll_up(
                    db, market, timeframe, SOURCE[timeframe], chunk_lo, chunk_hi, replace=replace
                )
                await asyncio.sleep(0)  # let requests in between statements
    return written
