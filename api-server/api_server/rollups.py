"""Keeps `candle_rollups` current: as minutes close, the closed buckets of every larger
timeframe are aggregated with the pure `aggregate()` and upserted.

Runs inside every api-server process; a PostgreSQL advisory lock lets one replica work while
the others wait, and a replica that dies releases the lock with its connection. Work comes from
two sources: the closed horizon moving forward (new minutes closing) and, every
`rescan_interval`, minutes written late into the past (gap refills, a backfill running behind
the live stream), found by their `updated_at`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from api_server import candle_store
from api_server.candle_reader import ROLLED, Reader
from linkora_core import db
from linkora_core.db import Executor
from linkora_core.timeframes import MINUTE_MS, Timeframe

log = logging.getLogger(__name__)

LOCK_KEY = 0x4C6B5F726F6C6C  # "Lk_roll"
_HOUR_MS = 60 * MINUTE_MS
_DAY_MS = 24 * _HOUR_MS
# Rows written by a transaction that committed late carry an older `updated_at`: look back.
_COMMIT_MARGIN = timedelta(seconds=60)
# Bucket-aligned chunks keep one aggregation pass to a few thousand source rows, so that the
# catch-up of a long history never holds the event loop (and the requests it serves) for long.
_CHUNK_MS = {
    Timeframe.MINUTE_3: _DAY_MS,
    Timeframe.MINUTE_5: _DAY_MS,
    Timeframe.MINUTE_15: 7 * _DAY_MS,
    Timeframe.MINUTE_30: 7 * _DAY_MS,
    Timeframe.MINUTE_45: 7 * _DAY_MS,
    Timeframe.HOUR_1: 14 * _DAY_MS,
}
_LONG_CHUNK_MS = 2000 * _DAY_MS

Range = tuple[int, int]


def _merge(ranges: list[Range]) -> list[Range]:
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _chunks(timeframe: Timeframe, lo: int, hi: int) -> list[Range]:
    span = _CHUNK_MS.get(timeframe, _LONG_CHUNK_MS)
    out = []
    while lo < hi:
        cut = timeframe.bucket_start(lo + span)
        cut = min(hi, cut if cut > lo else timeframe.next_start(lo))
        out.append((lo, cut))
        lo = cut
    return out


async def roll_symbol(db: Executor, symbol: str, dirty_hours: Sequence[int] = ()) -> int:
    """Store every closed bucket of `symbol` not stored yet, and re-store the buckets holding
    the given dirty hours. Returns how many rollup rows were written."""
    horizon = await candle_store.closed_horizon(db, symbol)
    if horizon is None:
        return 0
    first = await candle_store.first_minute(db, symbol)
    written = 0
    for timeframe in ROLLED:
        reader = await Reader.open(db, symbol, timeframe)
        end = timeframe.bucket_start(horizon)
        frontier = reader.frontier(timeframe)
        start = frontier if frontier is not None else timeframe.bucket_start(first or horizon)
        ranges = [(start, end)] if start < end else []
        for hour in dirty_hours:
            lo = timeframe.bucket_start(hour)
            hi = min(end, timeframe.next_start(hour + _HOUR_MS - 1))
            if lo < hi:
                ranges.append((lo, hi))
        for lo, hi in _merge(ranges):
            for chunk_lo, chunk_hi in _chunks(timeframe, lo, hi):
                candles = await reader.tail(timeframe, chunk_lo, chunk_hi)
                await candle_store.upsert_rollups(db, symbol, candles)
                written += len(candles)
                await asyncio.sleep(0)  # let requests in between chunks
    return written


class RollupMaintainer:
    """The loop: take the lock, then roll every symbol each `interval` seconds."""

    def __init__(
        self,
        dsn: str,
        *,
        interval: float = 2.0,
        rescan_interval: float = 60.0,
        startup_lookback: float = 86_400.0,
    ) -> None:
        self._dsn = dsn
        self._interval = interval
        self._rescan_interval = rescan_interval
        self._lookback = timedelta(seconds=startup_lookback)
        self._scanned_until: datetime | None = None
        self._next_rescan = 0.0
        self._horizons: dict[str, int | None] = {}
        self.cycles = 0

    async def cycle(self, db: Executor) -> int:
        """One pass over every symbol; returns rollup rows written."""
        dirty: dict[str, list[int]] = {}
        loop = asyncio.get_running_loop()
        if self._rescan_interval and loop.time() >= self._next_rescan:
            now: datetime = await db.fetchval("SELECT now()")
            since = (self._scanned_until or now - self._lookback) - _COMMIT_MARGIN
            dirty = await candle_store.dirty_hours(db, since)
            self._scanned_until = now
            self._next_rescan = loop.time() + self._rescan_interval
        written = 0
        for symbol in await candle_store.symbols(db):
            horizon = await candle_store.closed_horizon(db, symbol)
            if symbol not in dirty and horizon == self._horizons.get(symbol, -1):
                continue
            written += await roll_symbol(db, symbol, dirty.get(symbol, []))
            self._horizons[symbol] = horizon
        self.cycles += 1
        return written

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: hold the lock (retrying while the database is away) and roll up."""
        while not stop.is_set():
            try:
                connection: asyncpg.Connection = await asyncpg.connect(self._dsn)
                try:
                    await self._hold_and_work(connection, stop)
                finally:
                    await connection.close(timeout=5)
            except (*db.DATABASE_DOWN, asyncpg.PostgresError) as error:
                log.warning("rollup maintainer paused: %s", error)
            except ValueError:
                # Data aggregate() refuses (e.g. overlapping candles) must not end the loop.
                log.exception("rollup pass failed; retrying")
            await _wait(stop, self._interval)

    async def _hold_and_work(self, connection: asyncpg.Connection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                break
            await _wait(stop, self._interval * 5)
        while not stop.is_set():
            written = await self.cycle(connection)
            if written:
                log.info("rollups: %d buckets stored", written)
            await _wait(stop, self._interval)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass
