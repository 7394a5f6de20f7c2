"""Candles of any timeframe: closed buckets from the rollup table, the rest (the open bucket,
and closed buckets the maintainer has not stored yet) aggregated from the next smaller
timeframe, recursively down to the 1m minutes.

Each timeframe is built from a parent that divides it, so a tail never needs more than a few
dozen rows per level (1M = closed days + closed hours of today + ...)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from api_server import candle_store
from linkora_core import rollup_sql
from linkora_core.candles import Candle
from linkora_core.db import Executor
from linkora_core.epoch import DAY_MS
from linkora_core.markets import Market
from linkora_core.rollup_passes import SOURCE, chain
from linkora_core.rollup_sql import Segment
from linkora_core.timeframes import Timeframe


class Reader:
    """Reads one market's candles; holds the rollup frontiers fetched once per request."""

    def __init__(
        self,
        db: Executor,
        market: Market,
        frontiers: dict[Timeframe, int | None],
        *,
        render: bool = False,
    ) -> None:
        self._db = db
        self.market = market
        self._frontiers = frontiers
        # Pages read stored candles as JSON rendered by the database (fast for big pages).
        self.render = render

    @classmethod
    async def open(
        cls,
        db: Executor,
        market: Market,
        timeframe: Timeframe,
        *,
        render: bool = False,
        frontiers: FrontierCache | None = None,
    ) -> Reader:
        if frontiers is None:
            known = await rollup_sql.rolled_until(db, market, chain(timeframe))
        else:
            known = await frontiers.get(db, market, timeframe)
        return cls(db, market, known, render=render)

    def frontier(self, timeframe: Timeframe) -> int | None:
        """Start of the first bucket with no stored rollup (None: nothing stored)."""
        return self._frontiers.get(timeframe)

    def _segments(self, timeframe: Timeframe, lo: int | None, hi: int | None) -> list[Segment]:
        """Disjoint stored runs covering [lo, hi) that `timeframe` buckets are built from: the
        rollups of each smaller timeframe of its source chain as far as they are stored (the
        coarsest first), minutes for the rest."""
        segments: list[Segment] = []
        source = SOURCE[timeframe]
        while source is not Timeframe.MINUTE_1:
            frontier = self.frontier(source)
            if frontier is not None and (lo is None or frontier > lo):
                cut = frontier if hi is None else min(hi, frontier)
                segments.append((source, lo, cut))
                lo = cut
                if hi is not None and lo >= hi:
                    return segments
            source = SOURCE[source]
        segments.append((Timeframe.MINUTE_1, lo, hi))
        return segments

    async def pieces(self, timeframe: Timeframe, lo: int) -> list[Candle]:
        """Disjoint candles covering [lo, now) that `timeframe` buckets are built from: stored
        rollups of each smaller timeframe where they exist, raw minutes at the end (the only
        part that still changes). One round trip."""
        return await candle_store.read_segments(
            self._db, self.market, self._segments(timeframe, lo, None)
        )

    async def tail(self, timeframe: Timeframe, lo: int | None, hi: int | None) -> list[Candle]:
        """Buckets in [lo, hi) aggregated by the database from smaller timeframes (nothing of
        `timeframe` itself read), oldest first. One round trip."""
        return await candle_store.aggregate(
            self._db, self.market, timeframe, self._segments(timeframe, lo, hi)
        )

    async def newest(self, timeframe: Timeframe, end: int | None, limit: int) -> list[Candle]:
        """The newest `limit` candles opening before `end`, newest first."""
        return (await self.newest_page(timeframe, end, limit)).candles()

    async def oldest(
        self, timeframe: Timeframe, start: int, end: int | None, limit: int
    ) -> list[Candle]:
        """The first `limit` candles opening at or after `start` (and before `end`)."""
        return (await self.oldest_page(timeframe, start, end, limit)).candles()

    async def newest_page(self, timeframe: Timeframe, end: int | None, limit: int) -> Page:
        hi = None if end is None else timeframe.next_start(end - 1)
        if timeframe is Timeframe.MINUTE_1:
            return Page([await self._stored(timeframe, None, end, limit, newest_first=True)])
        frontier = self.frontier(timeframe)
        fresh: list[Candle] = []
        if frontier is None or hi is None or hi > frontier:
            fresh = await self._newest_fresh(timeframe, frontier, end, hi, limit)
        if len(fresh) >= limit or frontier is None:
            return Page([Stored(fresh[:limit])])
        stored_hi = frontier if end is None else min(end, frontier)
        stored = await self._stored(
            timeframe, None, stored_hi, limit - len(fresh), newest_first=True
        )
        return Page([Stored(fresh), stored])

    async def _newest_fresh(
        self,
        timeframe: Timeframe,
        frontier: int | None,
        end: int | None,
        hi: int | None,
        limit: int,
    ) -> list[Candle]:
        """The newest `limit` buckets after the frontier (all of them when None), newest first.
        Right behind the frontier (the usual case) that is one aggregation; when the rollups
        are far behind (a catch-up) a window about `limit` buckets wide back from the newest
        minute, widened only while it comes up short: never every minute since the frontier."""
        span = limit * _width(timeframe)
        if frontier is not None and _within(frontier, hi, span):
            return [
                c for c in reversed(await self.tail(timeframe, frontier, hi)) if _before(c, end)
            ]
        newest = await candle_store.read_page(
            self._db, self.market, Timeframe.MINUTE_1, frontier, end, 1, newest_first=True
        )
        if not newest:
            return []
        floor = frontier
        if floor is None:
            first = await rollup_sql.first_minute(self._db, self.market)
            floor = timeframe.bucket_start(newest[0].open_time_ms if first is None else first)
        lo = max(floor, timeframe.bucket_start(newest[0].open_time_ms - span))
        while True:
            fresh = [c for c in await self.tail(timeframe, lo, hi) if _before(c, end)]
            if len(fresh) >= limit or lo <= floor:
                return fresh[::-1][:limit]
            span *= 2
            lo = max(floor, timeframe.bucket_start(lo - span))

    async def oldest_page(
        self, timeframe: Timeframe, start: int, end: int | None, limit: int
    ) -> Page:
        lo = timeframe.bucket_start(start)
        if lo < start:
            lo = timeframe.next_start(start)
        if timeframe is Timeframe.MINUTE_1:
            return Page([await self._stored(timeframe, lo, end, limit, newest_first=False)])
        frontier = self.frontier(timeframe)
        stored = Stored([])
        if frontier is not None and lo < frontier:
            stored_hi = frontier if end is None else min(end, frontier)
            stored = await self._stored(timeframe, lo, stored_hi, limit, newest_first=False)
            if stored.count >= limit or (end is not None and end <= frontier):
                return Page([stored])
        tail_lo = lo if frontier is None else max(lo, frontier)
        hi = None if end is None else timeframe.next_start(end - 1)
        if hi is not None and tail_lo >= hi:
            return Page([stored])
        fresh = await self._oldest_fresh(timeframe, tail_lo, end, hi, limit - stored.count)
        return Page([stored, Stored(fresh)])

    async def _oldest_fresh(
        self, timeframe: Timeframe, lo: int, end: int | None, hi: int | None, limit: int
    ) -> list[Candle]:
        """The oldest `limit` buckets from `lo` on, none of them stored: one aggregation when
        [lo, hi) is about `limit` buckets wide, else windows of that width forward from the
        oldest minute, widened while they come up short (never every minute to `hi`)."""
        span = limit * _width(timeframe)
        if _within(lo, hi, span):
            return [c for c in await self.tail(timeframe, lo, hi) if _before(c, end)][:limit]
        oldest = await candle_store.read_page(
            self._db, self.market, Timeframe.MINUTE_1, lo, end, 1, newest_first=False
        )
        newest = await candle_store.read_page(
            self._db, self.market, Timeframe.MINUTE_1, lo, end, 1, newest_first=True
        )
        if not oldest or not newest:
            return []
        lo = max(lo, timeframe.bucket_start(oldest[0].open_time_ms))
        last = newest[0].open_time_ms
        window_lo = lo
        out: list[Candle] = []
        while len(out) < limit and window_lo <= last:
            window_hi = timeframe.next_start(window_lo + span)
            if hi is not None:
                window_hi = min(hi, window_hi)
            out += [c for c in await self.tail(timeframe, window_lo, window_hi) if _before(c, end)]
            window_lo = window_hi
            span *= 2
        return out[:limit]

    async def _stored(
        self,
        timeframe: Timeframe,
        lo: int | None,
        hi: int | None,
        limit: int,
        *,
        newest_first: bool,
    ) -> Stored:
        if self.render:
            rendered = await candle_store.render_page(
                self._db, self.market, timeframe, lo, hi, limit, newest_first=newest_first
            )
            return Stored([], *rendered)
        candles = await candle_store.read_page(
            self._db, self.market, timeframe, lo, hi, limit, newest_first=newest_first
        )
        return Stored(candles)


@dataclass(slots=True)
class Stored:
    """A run of candles in page order: Candle objects, or (render mode) JSON text made by
    the database, with how many it holds and the open time of its last one."""

    items: list[Candle]
    json: str = ""
    rendered: int = 0
    rendered_last: int | None = None
    rendered_newest: int | None = None

    @property
    def count(self) -> int:
        return len(self.items) + self.rendered

    @property
    def last_open_time(self) -> int | None:
        return self.items[-1].open_time_ms if self.items else self.rendered_last


@dataclass(slots=True)
class Page:
    """A /candles page in output order, assembled from runs."""

    runs: list[Stored]

    def candles(self) -> list[Candle]:
        return [c for run in self.runs for c in run.items]

    @property
    def count(self) -> int:
        return sum(run.count for run in self.runs)

    @property
    def last_open_time(self) -> int | None:
        for run in reversed(self.runs):
            if run.count:
                return run.last_open_time
        return None

    @property
    def newest_open_time(self) -> int | None:
        times = [c.open_time_ms for run in self.runs for c in run.items]
        times += [run.rendered_newest for run in self.runs if run.rendered_newest is not None]
        return max(times, default=None)


class FrontierCache:
    """Rollup frontiers remembered for `ttl` seconds, saving a round trip per request.

    A remembered frontier can only lag the real one (rollups are added, never removed), and a
    lagging frontier only makes the reader aggregate a little more from smaller timeframes:
    never a wrong candle."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._known: dict[tuple[Market, Timeframe], tuple[float, dict[Timeframe, int | None]]] = {}

    async def get(
        self, db: Executor, market: Market, timeframe: Timeframe
    ) -> dict[Timeframe, int | None]:
        now = self._clock()
        hit = self._known.get((market, timeframe))
        if hit is not None and hit[0] > now:
            return hit[1]
        frontiers = await rollup_sql.rolled_until(db, market, chain(timeframe))
        if self._ttl > 0:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[market, timeframe] = (now + self._ttl, frontiers)
        return frontiers


def _before(candle: Candle, end: int | None) -> bool:
    return end is None or candle.open_time_ms < end


def _width(timeframe: Timeframe) -> int:
    """A bucket's width; for the calendar month, its longest."""
    return timeframe.width_ms or 31 * DAY_MS


def _within(lo: int, hi: int | None, span: int) -> bool:
    """[lo, hi) (None: up to now) is at most `span` wide. Minutes stamped after the wall
    clock only make a range read in one aggregation, never a wrong one."""
    return (time.time_ns() // 1_000_000 if hi is None else hi) - lo <= span
