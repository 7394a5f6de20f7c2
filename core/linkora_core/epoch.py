"""Epoch milliseconds, the one unit times cross every boundary in (pure).

Exchanges, Redis messages, the wire and the SQL layer all speak UTC epoch milliseconds;
`datetime` appears only where PostgreSQL's timestamptz needs it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Final

SECOND_MS: Final = 1_000
MINUTE_MS: Final = 60 * SECOND_MS
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    """Whole milliseconds since the epoch of an aware datetime (exact, no float)."""
    return (moment - EPOCH) // _ONE_MS


def to_datetime(ms: int) -> datetime:
    """The aware UTC datetime of an epoch-ms value (exact, no float)."""
    return EPOCH + ms * _ONE_MS


def floor_minute(ms: int) -> int:
    """Start of the minute containing `ms`."""
    return ms - ms % MINUTE_MS


def minute_close_ms(open_ms: int) -> int:
    """The last millisecond of the minute that opens at `open_ms` (Binance's close_time)."""
    return open_ms + MINUTE_MS - 1


def now_ms() -> int:
    return time.time_ns() // 1_000_000
