"""Where a symbol's 1m klines come from: the seeded walk or a replayed file."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from exchange_sim.candle import Candle
from exchange_sim.config import SymbolSpec
from exchange_sim.intervals import DAY_MS, day_of
from exchange_sim.walk import Walk, WalkParams


class Series(Protocol):
    """1m klines of one symbol, served a UTC day at a time."""

    spec: SymbolSpec
    first_ms: int  # open of the first minute that exists
    last_ms: int | None  # open of the last minute; None: continues forever (live)

    def minutes(self, day: int) -> list[Candle]:
        """The day's minutes (complete, including ones still in the future), oldest first."""
        ...


class GeneratedSeries:
    def __init__(
        self,
        spec: SymbolSpec,
        *,
        seed: int,
        origin_day: int,
        zero_trade_ppm: int,
        gap_hour_ppm: int,
        gaps: Sequence[tuple[int, int]] = (),
    ) -> None:
        self.spec = spec
        self.params = WalkParams(
            seed=seed,
            symbol=spec.symbol,
            origin_day=origin_day,
            decimals=spec.decimals,
            start_ticks=spec.start_ticks,
            zero_trade_ppm=zero_trade_ppm,
            gap_hour_ppm=gap_hour_ppm,
        )
        self.walk = Walk(self.params)
        self.origin_day = origin_day
        self.first_ms = origin_day * DAY_MS
        self.last_ms: int | None = None
        self.gaps = tuple(gaps)

    def minutes(self, day: int) -> list[Candle]:
        if day < self.origin_day:
            return []
        out = self.walk.day(day)
        lo, hi = day * DAY_MS, (day + 1) * DAY_MS
        for start, end in self.gaps:
            if start < hi and end >= lo:
                out = [c for c in out if not start <= c.open_ms <= end]
        return out


class ReplaySeries:
    def __init__(self, spec: SymbolSpec, candles: Sequence[Candle]) -> None:
        if not candles:
            raise ValueError(f"no klines to replay for {spec.symbol}")
        self.spec = spec
        self.first_ms = candles[0].open_ms
        self.last_ms: int | None = candles[-1].open_ms
        self._days: dict[int, list[Candle]] = defaultdict(list)
        for c in candles:
            self._days[day_of(c.open_ms)].append(c)

    def minutes(self, day: int) -> list[Candle]:
        return self._days.get(day, [])
