"""The candle timeframes served on the wire and the UTC buckets they cut time into.

All times are integer epoch milliseconds. Intraday buckets are multiples of their width since
the epoch; 1D starts at 00:00 UTC, 1W on Monday 00:00 UTC and 1M on the 1st of the month.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from linkora_core.epoch import DAY_MS, HOUR_MS, MINUTE_MS, to_datetime, to_ms

# MINUTE_MS is re-exported: the width of the smallest timeframe, which callers step by.
__all__ = ["BINANCE_INTERVALS", "MINUTE_MS", "Timeframe"]

# 1970-01-01 was a Thursday: weeks are counted from Monday 1970-01-05.
_MONDAY_MS: Final = 4 * DAY_MS


class Timeframe(StrEnum):
    """A candle timeframe; its value is the label clients send (``"45"``, ``"1H"``, ``"1M"``)."""

    MINUTE_1 = "1"
    MINUTE_3 = "3"
    MINUTE_5 = "5"
    MINUTE_15 = "15"
    MINUTE_30 = "30"
    MINUTE_45 = "45"
    HOUR_1 = "1H"
    HOUR_2 = "2H"
    HOUR_3 = "3H"
    HOUR_4 = "4H"
    DAY_1 = "1D"
    WEEK_1 = "1W"
    MONTH_1 = "1M"

    @classmethod
    def parse(cls, label: str) -> Timeframe:
        """The timeframe with this exact wire label; ValueError for anything else."""
        try:
            return cls(label)
        except ValueError:
            raise ValueError(f"unknown timeframe {label!r}") from None

    @property
    def width_ms(self) -> int | None:
        """The fixed bucket width, or None for the calendar month."""
        return _WIDTH_MS.get(self)

    def bucket_start(self, ts_ms: int) -> int:
        """Start of the bucket that contains ``ts_ms``."""
        width = _WIDTH_MS.get(self)
        if width is None:
            day = to_datetime(ts_ms)
            return to_ms(datetime(day.year, day.month, 1, tzinfo=UTC))
        offset = _MONDAY_MS if self is Timeframe.WEEK_1 else 0
        return ts_ms - (ts_ms - offset) % width

    def next_start(self, ts_ms: int) -> int:
        """Start of the bucket after the one containing ``ts_ms``: that bucket's exclusive end."""
        width = _WIDTH_MS.get(self)
        if width is None:
            day = to_datetime(ts_ms)
            year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
            return to_ms(datetime(year, month, 1, tzinfo=UTC))
        return self.bucket_start(ts_ms) + width

    def previous_start(self, ts_ms: int) -> int:
        """Start of the bucket before the one containing ``ts_ms``."""
        return self.bucket_start(self.bucket_start(ts_ms) - 1)


_WIDTH_MS: Final[Mapping[Timeframe, int]] = MappingProxyType(
    {
        Timeframe.MINUTE_1: MINUTE_MS,
        Timeframe.MINUTE_3: 3 * MINUTE_MS,
        Timeframe.MINUTE_5: 5 * MINUTE_MS,
        Timeframe.MINUTE_15: 15 * MINUTE_MS,
        Timeframe.MINUTE_30: 30 * MINUTE_MS,
        Timeframe.MINUTE_45: 45 * MINUTE_MS,
        Timeframe.HOUR_1: HOUR_MS,
        Timeframe.HOUR_2: 2 * HOUR_MS,
        Timeframe.HOUR_3: 3 * HOUR_MS,
        Timeframe.HOUR_4: 4 * HOUR_MS,
        Timeframe.DAY_1: DAY_MS,
        Timeframe.WEEK_1: 7 * DAY_MS,
    }
)

BINANCE_INTERVALS: Final[Mapping[str, Timeframe]] = MappingProxyType(
    {
        "1m": Timeframe.MINUTE_1,
        "3m": Timeframe.MINUTE_3,
        "5m": Timeframe.MINUTE_5,
        "15m": Timeframe.MINUTE_15,
        "30m": Timeframe.MINUTE_30,
        "1h": Timeframe.HOUR_1,
        "2h": Timeframe.HOUR_2,
        "4h": Timeframe.HOUR_4,
        "1d": Timeframe.DAY_1,
        "1w": Timeframe.WEEK_1,
        "1M": Timeframe.MONTH_1,
    }
)
"""Binance kline interval names and the timeframe each one is."""
