"""OKX request parameters mapped onto the simulator's series (pure).

Candles: `after=T` asks for bars opening before T, `before=T` for bars opening after T
(both exclusive); the newest `limit` bars of that range come back, newest first.
/market/candles reaches only the latest 1,440 bars; /market/history-candles the rest.
Bars are the simulator's UTC buckets, so the UTC+8-aligned 6H..3M bars are refused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from exchange_sim.intervals import FIXED_MS, bucket_start, is_intraday
from exchange_sim.klines import Window
from exchange_sim.okx import errors
from exchange_sim.okx.instruments import KNOWN_TYPES, Instrument, lookup

BARS: dict[str, str] = {
    "1m": "1m",
    "3m": "3m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1H": "1h",
    "2H": "2h",
    "4H": "4h",
    "6Hutc": "6h",
    "12Hutc": "12h",
    "1Dutc": "1d",
    "1Wutc": "1w",
    "1Mutc": "1M",
}
CANDLE_LIMIT = (1, 300, 100)  # min, max, default
BOOK_SIZE = (1, 400, 1)


@dataclass(frozen=True, slots=True)
class CandleQuery:
    inst: Instrument
    interval: str  # the simulator's name ("1h")
    after: int | None  # bars opening before this
    before: int | None  # bars opening after this
    limit: int


def instrument(params: Mapping[str, str], symbols: Collection[str]) -> Instrument:
    inst_id = params.get("instId", "")
    if not inst_id:
        raise errors.empty("instId")
    inst = lookup(inst_id, symbols)
    if inst is None:
        raise errors.no_instrument()
    return inst


def integer(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name, "")
    if text == "":
        return None
    if not text.isdigit() or len(text) > 19:
        raise errors.bad(name)
    return int(text)


def bounded(params: Mapping[str, str], name: str, lo: int, hi: int, default: int) -> int:
    value = integer(params, name)
    if value is None:
        return default
    if not lo <= value <= hi:
        raise errors.bad(name)
    return value


def candle_query(params: Mapping[str, str], symbols: Collection[str]) -> CandleQuery:
    inst = instrument(params, symbols)
    interval = BARS.get(params.get("bar") or "1m")
    if interval is None:
        raise errors.bad("bar")
    after, before = integer(params, "after"), integer(params, "before")
    return CandleQuery(inst, interval, after, before, bounded(params, "limit", *CANDLE_LIMIT))


def candle_window(
    query: CandleQuery, now_ms: int, first_ms: int, last_ms: int | None, reach: int | None
) -> Window | None:
    """Open times to serve; `reach` = how many bars back from the open one (None: all)."""
    lo = bucket_start(query.interval, first_ms)
    hi = now_ms if last_ms is None else min(now_ms, last_ms)
    if reach is not None and is_intraday(query.interval):
        # Calendar bars never reach 1,440 back within the simulated data, so need no cut.
        newest = bucket_start(query.interval, now_ms)
        lo = max(lo, newest - (reach - 1) * FIXED_MS[query.interval])
    if query.before is not None:
        lo = max(lo, query.before + 1)
    if query.after is not None:
        hi = min(hi, query.after - 1)
    if lo > hi:
        return None
    return Window(lo, hi, query.limit, newest=True)


def book_size(params: Mapping[str, str]) -> int:
    return bounded(params, "sz", *BOOK_SIZE)


def inst_type(params: Mapping[str, str]) -> str:
    value = params.get("instType", "")
    if not value:
        raise errors.empty("instType")
    if value not in KNOWN_TYPES:
        raise errors.bad("instType")
    return value
