"""Klines of one symbol in any interval, paged like Binance, with serialized day chunks cached.

A chunk is one UTC day of one intraday interval: the open times, the JSON rows joined
into one bytes blob, and each row's offset in it. A 1000-row page is then one or two
slices of cached bytes. Buckets still open at "now" are rebuilt from the minutes.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from exchange_sim.candle import Candle, aggregate, partial, row_json
from exchange_sim.intervals import (
    DAY_MS,
    FIXED_MS,
    MINUTE_MS,
    bucket_start,
    close_ms,
    day_of,
    is_intraday,
    next_bucket,
)
from exchange_sim.klines import Window
from exchange_sim.series import Series
from exchange_sim.warm import pack


@dataclass(frozen=True, slots=True)
class Chunk:
    opens: array[int]
    offsets: array[int]  # start of row i in blob; offsets[-1] == len(blob)
    blob: bytes  # every row followed by b","


class LRU:
    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._items: OrderedDict[object, object] = OrderedDict()

    def get(self, key: object) -> object | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: object, value: object) -> None:
        self._items[key] = value
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)


class KlineStore:
    def __init__(self, series: Series, chunks: LRU, now_ms: Callable[[], int]) -> None:
        self.series = series
        self._chunks = chunks
        self._minutes = LRU(8)
        self._now_ms = now_ms

    @property
    def tick(self) -> int:
        return int(10 ** (8 - self.series.spec.decimals))

    @property
    def symbol(self) -> str:
        return self.series.spec.symbol

    # -- whole days -------------------------------------------------------------------
    def minutes(self, day: int) -> list[Candle]:
        key = (self.symbol, day)
        cached = self._minutes.get(key)
        if cached is None:
            cached = self.series.minutes(day)
            self._minutes.put(key, cached)
        return cached  # type: ignore[return-value]

    def day_candles(self, interval: str, day: int) -> list[Candle]:
        """Complete buckets of an intraday interval (1m .. 1d) inside one UTC day."""
        subs = self.minutes(day)
        if interval == "1m":
            return subs
        width = FIXED_MS[interval]
        out: list[Candle] = []
        start = 0
        while start < len(subs):
            bucket = subs[start].open_ms - subs[start].open_ms % width
            end = start
            while end < len(subs) and subs[end].open_ms < bucket + width:
                end += 1
            out.append(aggregate(bucket, subs[start:end]))
            start = end
        return out

    def chunk(self, interval: str, day: int) -> Chunk:
        key = (self.symbol, interval, day)
        cached = self._chunks.get(key)
        if cached is None:
            cached = Chunk(*pack(self.day_candles(interval, day), FIXED_MS[interval]))
            self._chunks.put(key, cached)
        return cached  # type: ignore[return-value]

    def has_chunk(self, interval: str, day: int) -> bool:
        return self._chunks.get((self.symbol, interval, day)) is not None

    def put_chunk(self, interval: str, day: int, chunk: Chunk) -> None:
        self._chunks.put((self.symbol, interval, day), chunk)

    # -- the still-open bucket ----------------------------------------------------------
    def live_bucket(self, interval: str, start: int, now: int) -> Candle | None:
        """The bucket opening at `start` as it stands at `now` (partial if still open)."""
        end = next_bucket(interval, start)
        if not is_intraday(interval):
            parts: list[Candle] = []
            for day in range(day_of(start), day_of(min(end - 1, now)) + 1):
                if (day + 1) * DAY_MS - 1 < now:
                    parts.extend(self.day_candles("1d", day))
                elif (live := self.live_bucket("1d", day * DAY_MS, now)) is not None:
                    parts.append(live)
            return aggregate(start, parts) if parts else None
        subs: list[Candle] = []
        for c in self.minutes(day_of(start)):
            if start <= c.open_ms < end and c.open_ms <= now:
                subs.append(partial(c, now - c.open_ms + 1, MINUTE_MS, self.tick))
        if not subs:
            return None
        return subs[0] if interval == "1m" else aggregate(start, subs)

    # -- pages --------------------------------------------------------------------------
    def page(self, interval: str, win: Window) -> bytes:
        """The JSON array a klines request returns."""
        now = self._now_ms()
        if not is_intraday(interval):
            rows = [
                row_json(c, close_ms(interval, c.open_ms)) for c in self._calendar(interval, win)
            ]
            return b"[" + b",".join(rows) + b"]"
        parts: list[bytes] = []
        last_open: int | None = None
        for day, i, j in self._plan(interval, win):
            chunk = self.chunk(interval, day)
            parts.append(chunk.blob[chunk.offsets[i] : chunk.offsets[j]])
            last_open = chunk.opens[j - 1]
        if last_open is not None and close_ms(interval, last_open) >= now:
            live = self.live_bucket(interval, last_open, now)
            cut = parts[-1].rfind(b"[")
            parts[-1] = parts[-1][:cut]
            if live is not None:
                parts[-1] += row_json(live, close_ms(interval, last_open)) + b","
        body = b"".join(parts)
        return b"[" + body[:-1] + b"]"

    def candles(self, interval: str, win: Window) -> list[Candle]:
        """The same page as `page`, as integer candles (computed without the byte cache)."""
        if not is_intraday(interval):
            return self._calendar(interval, win)
        out: list[Candle] = []
        for day, i, j in self._plan(interval, win):
            out.extend(self.day_candles(interval, day)[i:j])
        now = self._now_ms()
        if out and close_ms(interval, out[-1].open_ms) >= now:
            live = self.live_bucket(interval, out[-1].open_ms, now)
            out[-1:] = [live] if live else []
        return out

    def _plan(self, interval: str, win: Window) -> list[tuple[int, int, int]]:
        """(day, first row, end row) slices of day chunks that make up the page."""
        first_day, last_day = day_of(win.lo), day_of(win.hi)
        plan: list[tuple[int, int, int]] = []
        left = win.limit
        days = range(last_day, first_day - 1, -1) if win.newest else range(first_day, last_day + 1)
        for day in days:
            opens = self.chunk(interval, day).opens
            i, j = bisect_left(opens, win.lo), bisect_right(opens, win.hi)
            if i >= j:
                continue
            if j - i >= left:
                i, j = (j - left, j) if win.newest else (i, i + left)
            plan.append((day, i, j))
            left -= j - i
            if not left:
                break
        if win.newest:
            plan.reverse()
        return plan

    def _calendar(self, interval: str, win: Window) -> list[Candle]:
        """1w / 1M buckets, built from daily candles."""
        now = self._now_ms()
        out: list[Candle] = []
        if win.newest:
            start = bucket_start(interval, win.hi)
            while len(out) < win.limit and start >= win.lo:
                bucket = self._calendar_bucket(interval, start, now)
                if bucket is not None:
                    out.append(bucket)
                start = bucket_start(interval, start - 1)
            out.reverse()
            return out
        start = bucket_start(interval, win.lo)
        if start < win.lo:
            start = next_bucket(interval, start)
        while len(out) < win.limit and start <= win.hi:
            bucket = self._calendar_bucket(interval, start, now)
            if bucket is not None:
                out.append(bucket)
            start = next_bucket(interval, start)
        return out

    def _calendar_bucket(self, interval: str, start: int, now: int) -> Candle | None:
        end = next_bucket(interval, start)
        if end - 1 >= now:
            return self.live_bucket(interval, start, now)
        days: list[Candle] = []
        for day in range(day_of(start), day_of(end)):
            days.extend(self.day_candles("1d", day))
        return aggregate(start, days) if days else None
