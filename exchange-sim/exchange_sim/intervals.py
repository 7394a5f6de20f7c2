"""Binance kline intervals and bucket alignment (pure).

Intraday buckets are multiples of their width since the epoch; 1d starts at 00:00 UTC,
1w on Monday 00:00 UTC and 1M on the 1st of the month.
"""

from __future__ import annotations

from datetime import UTC, datetime

MINUTE_MS = 60_000
DAY_MS = 86_400_000

FIXED_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": DAY_MS,
}
CALENDAR = ("1w", "1M")


def is_interval(name: str) -> bool:
    return name in FIXED_MS or name in CALENDAR


def is_intraday(interval: str) -> bool:
    """Buckets that never cross UTC midnight (so one day holds whole buckets)."""
    return interval in FIXED_MS


def bucket_start(interval: str, ms: int) -> int:
    width = FIXED_MS.get(interval)
    if width is not None:
        return ms - ms % width
    if interval == "1w":
        days = ms // DAY_MS
        # The epoch was a Thursday: (days + 3) % 7 is 0 on Mondays.
        return (days - (days + 3) % 7) * DAY_MS
    if interval == "1M":
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        return _ms(moment.year, moment.month)
    raise ValueError(f"unknown interval {interval!r}")


def next_bucket(interval: str, start: int) -> int:
    """Start of the bucket after the one that starts at `start`."""
    width = FIXED_MS.get(interval)
    if width is not None:
        return start + width
    if interval == "1w":
        return start + 7 * DAY_MS
    if interval == "1M":
        moment = datetime.fromtimestamp(start / 1000, UTC)
        year, month = (
            (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        )
        return _ms(year, month)
    raise ValueError(f"unknown interval {interval!r}")


def close_ms(interval: str, start: int) -> int:
    return next_bucket(interval, start) - 1


def day_of(ms: int) -> int:
    """Days since the epoch (UTC) of a millisecond timestamp."""
    return ms // DAY_MS


def _ms(year: int, month: int) -> int:
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 1000
