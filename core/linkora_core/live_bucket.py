"""Incremental aggregation of live minutes into the open bucket of a larger timeframe.

Binance pushes the same still-open minute many times; each version replaces the previous one,
so the open bucket always equals ``aggregate()`` over the latest version of every minute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from linkora_core.candles import Candle, Traded, has_trades
from linkora_core.decimals import EXACT
from linkora_core.timeframes import Timeframe

__all__ = ["LiveBucket", "LiveCandles", "LiveUpdate"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """The open bucket after a minute arrived, and the bucket that minute closed, if any."""

    current: Candle
    closed: Candle | None = None


class LiveBucket:
    """The open bucket of one symbol in one timeframe.

    A bucket closes when a minute of a later bucket arrives, and is reported closed once.
    Minutes older than the open bucket are stale: ``update`` ignores them and returns None.
    """

    _start: int
    _end: int
    _first: int
    _volume: Decimal
    _quote_volume: Decimal
    _taker_volume: Decimal
    _taker_quote_volume: Decimal
    _trades: int
    _counted: int  # minutes with a trade count (exchanges without one have none)
    _taker_counted: int  # minutes with taker volumes (likewise)
    _first_real: int | None
    _last_real: int | None
    _high: Decimal
    _low: Decimal

    def __init__(self, timeframe: Timeframe, *, traded: Traded = has_trades) -> None:
        self.timeframe = timeframe
        self._traded = traded
        self._subs: dict[int, Candle] = {}
        self._reset(0)

    @property
    def current(self) -> Candle | None:
        return self._candle() if self._subs else None

    def update(self, sub: Candle) -> LiveUpdate | None:
        at = sub.open_time_ms
        closed = None
        if self._subs and at < self._start:
            return None
        if not self._subs or at >= self._end:
            start = self.timeframe.bucket_start(at)
            _check_fits(sub, self.timeframe.next_start(start))
            if self._subs:
                closed = self._candle()
            self._reset(start)
        else:
            _check_fits(sub, self._end)
        old = self._subs.get(at)
        self._subs[at] = sub
        self._add(sub, old)
        self._first = min(self._first, at)
        return LiveUpdate(self._candle(), closed)

    def _reset(self, start: int) -> None:
        self._subs.clear()
        self._start = start
        self._end = self.timeframe.next_start(start)
        self._first = self._end
        self._volume = _ZERO
        self._quote_volume = _ZERO
        self._taker_volume = _ZERO
        self._taker_quote_volume = _ZERO
        self._trades = 0
        self._counted = 0
        self._taker_counted = 0
        self._first_real = None
        self._last_real = None
        self._high = _ZERO
        self._low = _ZERO

    def _add(self, sub: Candle, old: Candle | None) -> None:
        add, subtract = EXACT.add, EXACT.subtract
        self._volume = add(self._volume, sub.volume)
        self._quote_volume = add(self._quote_volume, sub.quote_volume)
        self._count(sub, 1)
        if old is not None:
            self._volume = subtract(self._volume, old.volume)
            self._quote_volume = subtract(self._quote_volume, old.quote_volume)
            self._count(old, -1)
            if self._traded(old) and self._loses_extreme(old, sub):
                self._rescan()
                return
        if self._traded(sub):
            self._take_prices(sub)

    def _count(self, sub: Candle, sign: int) -> None:
        """Add (sign 1) or take away (-1) the counts and taker volumes a minute has."""
        if sub.trades is not None:
            self._trades += sign * sub.trades
            self._counted += sign
        if sub.taker_buy_volume is not None and sub.taker_buy_quote_volume is not None:
            change = EXACT.add if sign > 0 else EXACT.subtract
            self._taker_volume = change(self._taker_volume, sub.taker_buy_volume)
            self._taker_quote_volume = change(self._taker_quote_volume, sub.taker_buy_quote_volume)
            self._taker_counted += sign

    def _loses_extreme(self, old: Candle, new: Candle) -> bool:
        # A replaced minute that held the bucket's high or low may take it away with it; a
        # minute that only grows (the normal case) never does, so rescans stay rare.
        if not self._traded(new):
            return True
        return (old.high == self._high and new.high < old.high) or (
            old.low == self._low and new.low > old.low
        )

    def _rescan(self) -> None:
        self._first_real = self._last_real = None
        for real in filter(self._traded, self._subs.values()):
            self._take_prices(real)

    def _take_prices(self, real: Candle) -> None:
        at = real.open_time_ms
        if self._first_real is None or self._last_real is None:
            self._first_real = self._last_real = at
            self._high, self._low = real.high, real.low
            return
        self._first_real = min(self._first_real, at)
        self._last_real = max(self._last_real, at)
        self._high = max(self._high, real.high)
        self._low = min(self._low, real.low)

    def _candle(self) -> Candle:
        if self._first_real is None or self._last_real is None:
            quiet = self._subs[self._first]
            open_, high, low, close = quiet.open, quiet.high, quiet.low, quiet.close
        else:
            open_ = self._subs[self._first_real].open
            close = self._subs[self._last_real].close
            high, low = self._high, self._low
        return Candle(
            open_time_ms=self._start,
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=self._volume,
            quote_volume=self._quote_volume,
            trades=self._trades if self._counted else None,
            taker_buy_volume=self._taker_volume if self._taker_counted else None,
            taker_buy_quote_volume=self._taker_quote_volume if self._taker_counted else None,
            timeframe=self.timeframe,
        )


def _check_fits(sub: Candle, end: int) -> None:
    if sub.timeframe.next_start(sub.open_time_ms) > end:
        raise ValueError(f"a {sub.timeframe.value} candle at {sub.open_time_ms} spans two buckets")


class LiveCandles:
    """Live buckets for every (symbol, timeframe) pair, fed one minute at a time."""

    def __init__(self, timeframes: Iterable[Timeframe], *, traded: Traded = has_trades) -> None:
        self._timeframes = tuple(timeframes)
        self._traded = traded
        self._buckets: dict[tuple[str, Timeframe], LiveBucket] = {}

    def update(self, symbol: str, minute: Candle) -> dict[Timeframe, LiveUpdate]:
        """The update of every timeframe the minute is not stale for."""
        out = {}
        for timeframe in self._timeframes:
            bucket = self._buckets.get((symbol, timeframe))
            if bucket is None:
                bucket = self._buckets[symbol, timeframe] = LiveBucket(
                    timeframe, traded=self._traded
                )
            result = bucket.update(minute)
            if result is not None:
                out[timeframe] = result
        return out
