"""Keeps `candle_rollups` current: the closed buckets of every larger timeframe, aggregated
by PostgreSQL from the timeframe's source (`linkora_core.rollup_passes`) with the Binance
rule of `linkora_core.candles.aggregate` written in SQL, set-wise, a bounded span per statement.
The collector's backfill stores the rollups of what it writes itself, in the same transaction
(and logs nothing for it); the maintainer stores the rest.

Runs inside every api-server process; a PostgreSQL advisory lock lets one replica work while
the others wait for it inside PostgreSQL (no polling), and a replica that dies releases the
lock with its connection, which hands it to a waiter at once. Work comes from two sources:

- the closed horizon moving forward (new minutes closing): the buckets after each timeframe's
  frontier are stored as they close;
- the change log `candle_changes`, in which the collector records, in the very transaction that
  writes the minutes, the range of minutes each write touched. The maintainer takes a market's
  log rows, merges their ranges, re-aggregates the affected stored buckets of every timeframe
  (those before its frontier; the advancing pass that follows stores the rest from the
  minutes as they are), upserts them, drops stored buckets whose minutes are gone and deletes
  the rows it took, all in one transaction: each change is consumed exactly once, and a
  maintainer killed mid-way leaves the log as it was. Minutes written or corrected late are
  thus found however far back they are and whenever they were written, with or without an
  api-server running at the time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import asyncpg

from api_server import candle_store
from linkora_core import db, rollup_sql
from linkora_core.backoff import pause
from linkora_core.db import Executor
from linkora_core.epoch import DAY_MS, MINUTE_MS, to_datetime, to_ms
from linkora_core.markets import Market, venue_of_key
from linkora_core.rollup_passes import ROLLED, Range, hold_market, lock_market, merge, roll_market
from linkora_core.timeframes import Timeframe

log = logging.getLogger(__name__)

LOCK_KEY = 0x4C6B5F726F6C6C  # "Lk_roll"
# A catch-up stores every timeframe but 3m first (each from its source: 5m from the minutes,
# 15m from 5m, ... 1M from 1D), then 3m from the minutes again: the larger timeframes, whose
# pages would otherwise be aggregated from long spans of minutes, are there soonest, while a
# 3m page needs at most a few thousand minutes.
BUILD_ORDER: Final = (
    tuple(tf for tf in ROLLED if tf is not Timeframe.MINUTE_3),
    (Timeframe.MINUTE_3,),
)
# One transaction consumes at most this many changed minutes in at most this many ranges; the
# rest goes back into the log (same transaction), so a long history of late writes is worked
# off in bounded transactions.
_CONSUME_SPAN_MS = 7 * DAY_MS
_CONSUME_RANGES = 256

# Rollups are derived from the minutes: a commit lost in a crash (the last few ms of them)
# only leaves its buckets, or its change-log rows, to be done again, so the maintainer's
# commits need not wait for the disk. Memory enough to aggregate a statement's rows in one
# pass.
_SESSION = "SET synchronous_commit = off; SET work_mem = '32MB'"

# Takes (deletes) every committed log row of a market; rows committed later stay for next time.
_TAKE_CHANGES = """
WITH taken AS (DELETE FROM candle_changes WHERE venue = $1 AND symbol = $2
               RETURNING first_open_time, last_open_time)
SELECT first_open_time, last_open_time FROM taken GROUP BY 1, 2
"""
# A waiter blocks in pg_advisory_lock, woken by PostgreSQL when the holder's session ends; the
# wait is bounded (lock_timeout, this transaction only: the passes' market locks must not
# time out) so that a replica whose database went away finds out and reconnects.
_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', $1, true)"
_WAIT_FOR_LOCK = "SELECT pg_advisory_lock($1)"
_PUT_BACK = """
INSERT INTO candle_changes (venue, symbol, first_open_time, last_open_time)
SELECT $1, $2, lo, hi - interval '1 minute'
FROM unnest($3::timestamptz[], $4::timestamptz[]) AS r(lo, hi)
"""


def _split(ranges: Sequence[Range], span: int, count: int) -> tuple[list[Range], list[Range]]:
    """Merged ranges -> (the oldest ones covering at most `span` ms in at most `count`
    ranges, the rest). `span` is a whole number of minutes, so cuts fall on minutes."""
    now: list[Range] = []
    for index, (lo, hi) in enumerate(ranges):
        if span <= 0 or len(now) == count:
            return now, list(ranges[index:])
        if hi - lo > span:
            now.append((lo, lo + span))
            return now, [(lo + span, hi), *ranges[index + 1 :]]
        now.append((lo, hi))
        span -= hi - lo
    return now, []


async def consume_changes(connection: asyncpg.Connection, market: Market) -> tuple[int, bool]:
    """One transaction: take the market's change log, re-store the stored buckets it touches
    (a bounded part of them; the rest goes back into the log) and commit. Returns the rollup
    rows written and whether log rows were left for another pass. The caller then runs an
    advancing `roll_market` for the market, for the touched minutes past the frontiers."""
    async with connection.transaction():
        await lock_market(connection, market)
        rows = await connection.fetch(_TAKE_CHANGES, *rollup_sql.key(market))
        if not rows:
            return 0, False
        changed = merge([(to_ms(a), to_ms(b) + MINUTE_MS) for a, b in rows])
        now, later = _split(changed, _CONSUME_SPAN_MS, _CONSUME_RANGES)
        if later:
            await connection.execute(
                _PUT_BACK,
                *rollup_sql.key(market),
                [to_datetime(lo) for lo, _ in later],
                [to_datetime(hi) for _, hi in later],
            )
        horizon = await rollup_sql.closed_horizon(connection, market)
        # Minutes at or after the horizon (the open minute, mostly) are in no stored bucket:
        # the buckets holding them are aggregated afresh when they close. Minutes past a
        # timeframe's frontier are in no stored bucket of it either: the caller's next
        # advancing pass aggregates them from the minutes as they are (a backfill's log thus
        # costs no second aggregation of what it wrote).
        written = 0
        if horizon is not None and now[0][0] < horizon:
            written = await roll_market(connection, market, now, advance=False)
        return written, bool(later)


async def _logged_markets(db: Executor) -> set[Market]:
    """The markets with change-log rows (of a known venue: others are left alone)."""
    found: set[Market] = set()
    for venue_key, symbol in await db.fetch("SELECT DISTINCT venue, symbol FROM candle_changes"):
        try:
            found.add(Market(venue_of_key(venue_key), symbol))
        except ValueError:
            log.warning("change log of unknown venue %r left alone", venue_key)
    return found


async def take_lock(connection: asyncpg.Connection, wait: float) -> bool:
    """Wait at most `wait` seconds for the maintainer lock; True once this session holds it
    (a session lock: it outlives the transaction it was taken in)."""
    try:
        async with connection.transaction():
            await connection.execute(_LOCK_TIMEOUT, f"{max(1, round(wait * 1000))}ms")
            await connection.execute(_WAIT_FOR_LOCK, LOCK_KEY)
    except asyncpg.LockNotAvailableError:
        return False
    return True


class RollupMaintainer:
    """The loop: take the lock, then roll every market each `interval` seconds.
    `maintainer` and `since` say whether (and since when) this process holds the lock."""

    def __init__(self, dsn: str, *, interval: float = 2.0) -> None:
        self._dsn = dsn
        self._interval = interval
        self._horizons: dict[Market, int | None] = {}
        self._backlog = False
        self._holder: asyncpg.Connection | None = None
        self._since: datetime | None = None
        self.cycles = 0

    @property
    def maintainer(self) -> bool:
        """True while this process holds the lock: its session is open (asyncpg sees a
        connection the server dropped as closed as soon as the socket ends)."""
        return self._holder is not None and not self._holder.is_closed()

    @property
    def since(self) -> datetime | None:
        """When this process took the lock it holds (None while it holds none)."""
        return self._since if self.maintainer else None

    async def cycle(self, db: Executor) -> int:
        """One pass over every market; returns rollup rows written."""
        if isinstance(db, asyncpg.Pool):
            async with db.acquire() as connection:
                return await self.cycle(connection)
        await db.execute(_SESSION)
        logged = await _logged_markets(db)
        written = 0
        backlog = False
        every = sorted(set(await candle_store.markets(db)) | logged)
        # The log first: what it touched past the frontiers is stored by the passes below.
        for market in every:
            if market in logged:
                stored, more = await consume_changes(db, market)
                written += stored
                backlog = backlog or more
        moved: dict[Market, int | None] = {}
        for market in every:
            horizon = await rollup_sql.closed_horizon(db, market)
            if market in logged or horizon != self._horizons.get(market, -1):
                moved[market] = horizon
        # Group by group over every market: after a backfill, the larger timeframes of all
        # markets are stored before any 3m.
        for timeframes in BUILD_ORDER:
            for market in moved:
                async with hold_market(db, market):
                    written += await roll_market(db, market, timeframes=timeframes)
        self._horizons.update(moved)
        self._backlog = backlog
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
            await pause(self._interval, stop)

    async def _hold_and_work(self, connection: asyncpg.Connection, stop: asyncio.Event) -> None:
        while not await take_lock(connection, self._interval * 5):
            if stop.is_set():
                return
        if stop.is_set():
            return
        self._holder, self._since = connection, datetime.now(UTC)
        log.info("rollup maintainer: this process holds the lock")
        try:
            while not stop.is_set():
                written = await self.cycle(connection)
                if written:
                    log.info("rollups: %d buckets stored", written)
                if not self._backlog:  # a long change log is worked off without pausing
                    await pause(self._interval, stop)
        finally:
            self._holder = self._since = None
