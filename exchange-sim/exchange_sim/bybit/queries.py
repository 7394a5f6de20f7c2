"""Bybit request parameters and topic names, mapped onto the simulator's series (pure).

Intervals are Bybit's codes ("1" ... "720", "D", "W", "M"), served from the simulator's
buckets of the same width. A kline `start` inside a bucket returns that bucket (observed on
the real API); with `start` the page is taken from the start side, without it the newest
`limit` rows up to `end` (or now) are returned; rows go out newest first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from exchange_sim.bybit import errors
from exchange_sim.intervals import bucket_start
from exchange_sim.klines import KlineQuery

SERVED = ("spot", "linear")  # categories with data
KNOWN = (*SERVED, "inverse", "option")
INTERVALS: dict[str, str] = {
    "1": "1m",
    "3": "3m",
    "5": "5m",
    "15": "15m",
    "30": "30m",
    "60": "1h",
    "120": "2h",
    "240": "4h",
    "360": "6h",
    "720": "12h",
    "D": "1d",
    "W": "1w",
    "M": "1M",
}
KLINE_LIMIT = (1, 1000, 200)  # min, max, default
BOOK_LIMIT = {"spot": (1, 200, 1), "linear": (1, 500, 25)}
BOOK_DEPTHS = (1, 50, 200, 1000)
SPOT_MAX_ARGS = 10


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    kind: str  # "kline" or "orderbook"
    symbol: str
    interval: str = "1"  # Bybit code, for klines
    depth: int = 0  # levels per side, for order books

    @property
    def sim_interval(self) -> str:
        return INTERVALS[self.interval]


def category(params: Mapping[str, str], default: str | None = None) -> str:
    value = params.get("category") or default
    if value is None:
        raise errors.missing("category")
    if value not in KNOWN:
        raise errors.bad_category()
    return value


def symbol(params: Mapping[str, str], cat: str, symbols: Collection[str]) -> str:
    value = params.get("symbol", "")
    if not value:
        raise errors.missing("symbol")
    if cat not in SERVED or value not in symbols:
        raise errors.unknown_symbol()
    return value


def integer(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    if not text.isdigit() or len(text) > 19:
        raise errors.bad_value(name)
    return int(text)


def bounded(params: Mapping[str, str], name: str, lo: int, hi: int, default: int) -> int:
    value = integer(params, name)
    if value is None:
        return default
    if not lo <= value <= hi:
        raise errors.bad_value(name)
    return value


def kline_query(params: Mapping[str, str], symbols: Collection[str]) -> tuple[str, str, KlineQuery]:
    """(category, symbol, query) of GET /v5/market/kline; category defaults to linear."""
    cat = category(params, "linear")
    sym = symbol(params, cat, symbols)
    code = params.get("interval", "")
    if not code:
        raise errors.missing("interval")
    interval = INTERVALS.get(code)
    if interval is None:
        raise errors.bad_interval()
    start, end = integer(params, "start"), integer(params, "end")
    limit = bounded(params, "limit", *KLINE_LIMIT)
    if start is not None:
        start = bucket_start(interval, start)
    return cat, sym, KlineQuery(sym, interval, start, end, limit)


def book_limit(params: Mapping[str, str], cat: str) -> int:
    return bounded(params, "limit", *BOOK_LIMIT[cat])


class TopicError(ValueError):
    pass


def parse_topic(name: str, symbols: Collection[str]) -> Topic:
    """ "kline.1.BTCUSDT", "orderbook.50.BTCUSDT" -> Topic."""
    parts = name.split(".") if isinstance(name, str) else []
    if len(parts) != 3 or parts[2] not in symbols:
        raise TopicError(f"error:handler not found,topic:{name}")
    kind, arg, sym = parts
    if kind == "kline" and arg in INTERVALS:
        return Topic(name, "kline", sym, interval=arg)
    if kind == "orderbook" and arg.isdigit() and int(arg) in BOOK_DEPTHS:
        return Topic(name, "orderbook", sym, depth=int(arg))
    raise TopicError(f"error:handler not found,topic:{name}")
