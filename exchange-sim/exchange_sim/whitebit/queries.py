"""Query strings of WhiteBIT's public REST calls, checked and mapped onto the simulator (pure).

GET /api/v1/public/kline: `market`, `interval` (default 1h), `start` / `end` in seconds,
`limit` 1..1440 (default 1440). With `start`, the oldest `limit` candles opening at or after
it (ccxt pages that way); without it, the newest `limit` candles of the default span before
`end` (a day for minute intervals, a week for hours, a month for days and weeks, a year for
months). Rows are oldest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from exchange_sim.intervals import DAY_MS
from exchange_sim.klines import KlineQuery
from exchange_sim.whitebit import errors

KLINE_MAX = 1440
BOOK_MAX = 100
BOOK_LEVELS = range(0, 6)

# WhiteBIT lists 3d too; the simulator has no 3-day bucket, so it is refused here.
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "1w", "1M")
_SPAN_DAYS = {"m": 1, "h": 7, "d": 30, "w": 30, "M": 365}


@dataclass(frozen=True, slots=True)
class KlineRequest:
    query: KlineQuery  # in the simulator's milliseconds
    floor_ms: int | None  # without `start`: drop candles opening before this


def integer(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    if not text.isdigit() or len(text) > 12:
        raise errors.not_integer(name)
    return int(text)


def market(params: Mapping[str, str], known: Mapping[str, str]) -> str:
    """The simulator symbol of the `market` parameter."""
    name = params.get("market", "")
    if not name:
        raise errors.missing("market")
    return by_name(name, known)


def by_name(name: str, known: Mapping[str, str]) -> str:
    symbol = known.get(name)
    if symbol is None:
        raise errors.unknown_market()
    return symbol


def kline(params: Mapping[str, str], known: Mapping[str, str], now_ms: int) -> KlineRequest:
    symbol = market(params, known)
    interval = params.get("interval") or "1h"
    if interval not in INTERVALS:
        raise errors.bad_interval()
    start, end = integer(params, "start"), integer(params, "end")
    limit = integer(params, "limit")
    if limit is None:
        limit = KLINE_MAX
    elif limit > KLINE_MAX:
        raise errors.too_large("limit", KLINE_MAX)
    elif limit < 1:
        raise errors.too_small("limit", 1)
    if start is not None and end is not None and start > end:
        raise errors.start_after_end()
    end_ms = None if end is None else end * 1000
    if start is not None:
        return KlineRequest(KlineQuery(symbol, interval, start * 1000, end_ms, limit), None)
    top = now_ms if end_ms is None else end_ms
    floor = top - _SPAN_DAYS[interval[-1]] * DAY_MS
    return KlineRequest(KlineQuery(symbol, interval, None, top, limit), floor)


def book_limit(params: Mapping[str, str]) -> int:
    """`limit` of the order book: 0 or absent means 100."""
    limit = integer(params, "limit")
    if not limit:
        return BOOK_MAX
    if limit > BOOK_MAX:
        raise errors.too_large("limit", BOOK_MAX)
    return limit


def book_level(params: Mapping[str, str]) -> int:
    """`level` (price aggregation, 0..5); the simulator serves every level unaggregated."""
    level = integer(params, "level") or 0
    if level not in BOOK_LEVELS:
        raise errors.too_large("level", BOOK_LEVELS[-1])
    return level
