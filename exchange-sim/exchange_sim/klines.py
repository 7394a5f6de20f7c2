"""What a /api/v3/klines request asks for, in Binance's paging semantics (pure).

- only startTime: the oldest `limit` klines opening at or after it;
- only endTime: the newest `limit` klines opening at or before it;
- both: the oldest from startTime, none opening after endTime;
- neither: the newest `limit` klines;
- nothing in range (e.g. before the data, or in the future): [].
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from exchange_sim import errors
from exchange_sim.intervals import is_interval

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
WEIGHT = 2


@dataclass(frozen=True, slots=True)
class KlineQuery:
    symbol: str
    interval: str
    start: int | None
    end: int | None
    limit: int


@dataclass(frozen=True, slots=True)
class Window:
    """Klines with lo <= open_ms <= hi; the oldest `limit` of them, or the newest."""

    lo: int
    hi: int
    limit: int
    newest: bool


def parse_query(params: Mapping[str, str], symbols: Collection[str]) -> KlineQuery:
    symbol = params.get("symbol", "")
    if not symbol:
        raise errors.mandatory("symbol")
    if symbol not in symbols:
        raise errors.invalid_symbol()
    interval = params.get("interval", "")
    if not interval:
        raise errors.mandatory("interval")
    if not is_interval(interval):
        raise errors.invalid_interval()
    start = optional_int(params, "startTime")
    end = optional_int(params, "endTime")
    limit = optional_int(params, "limit")
    if limit is None:
        limit = DEFAULT_LIMIT
    elif not 1 <= limit <= MAX_LIMIT:
        raise errors.invalid_value("limit")
    if start is not None and end is not None and start > end:
        raise errors.start_after_end()
    return KlineQuery(symbol, interval, start, end, limit)


def optional_int(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    if not text.isdigit() or len(text) > 20:
        raise errors.illegal_chars(name)
    return int(text)


def window(query: KlineQuery, now_ms: int, first_ms: int, last_ms: int | None) -> Window | None:
    """The open-time range to serve, given the data span and the server time; None = []."""
    lo = first_ms if query.start is None else max(first_ms, query.start)
    hi = now_ms if query.end is None else min(query.end, now_ms)
    if last_ms is not None:
        hi = min(hi, last_ms)
    if lo > hi:
        return None
    return Window(lo, hi, query.limit, newest=query.start is None)
