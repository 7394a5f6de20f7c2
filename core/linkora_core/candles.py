"""Candles, Binance kline parsing and the Binance rule for building larger candles."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from linkora_core.decimals import EXACT, parse_decimal
from linkora_core.markets import Market
from linkora_core.timeframes import Timeframe

__all__ = [
    "Candle",
    "LiveCandle",
    "Traded",
    "aggregate",
    "build_bucket",
    "has_trades",
    "has_volume",
    "parse_kline",
]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV candle labelled with the aligned start of its bucket."""

    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int | None  # None: the exchange publishes no trade count
    taker_buy_volume: Decimal | None  # None: the exchange publishes no taker volumes
    taker_buy_quote_volume: Decimal | None
    timeframe: Timeframe = Timeframe.MINUTE_1

    @property
    def close_time_ms(self) -> int:
        """The last millisecond of the bucket, as Binance reports it."""
        return self.timeframe.next_start(self.open_time_ms) - 1


@dataclass(frozen=True, slots=True)
class LiveCandle:
    """A 1m candle of a market as last seen on the stream or by polling, and whether it has
    closed."""

    market: Market
    candle: Candle
    closed: bool

    @property
    def symbol(self) -> str:
        return self.market.symbol


Traded = Callable[[Candle], bool]
"""Tells whether a sub-candle holds real trades rather than a zero-trade placeholder."""


def has_trades(candle: Candle) -> bool:
    """Binance's own test: the candle counted at least one trade; where the exchange counts
    none, that it has volume (as the SQL rule, `rollup_sql`)."""
    if candle.trades is None:
        return candle.volume > 0
    return candle.trades > 0


def has_volume(candle: Candle) -> bool:
    """For sources without a trade count: a placeholder is the candle with zero volume."""
    return candle.volume > 0


def parse_kline(row: Sequence[object], timeframe: Timeframe = Timeframe.MINUTE_1) -> Candle:
    """Build a candle from one element of Binance's ``GET /api/v3/klines`` answer.

    A real ETHUSDT 1m row (2020-01-02 00:00 UTC, from the golden files)::

        [1577923200000, "130.72000000", "130.72000000", "130.50000000", "130.50000000",
         "329.42116000", 1577923259999, "43036.38742080", 103, "37.30648000",
         "4870.78650830", "0"]

    Other exchanges' rows come in the same layout, with None for the trade count and the
    taker volumes where the exchange publishes none.
    """
    if len(row) != 12:
        raise ValueError(f"a kline has 12 fields, got {len(row)}")
    open_time, close_time = _int(row[0]), _int(row[6])
    trades = None if row[8] is None else _int(row[8])
    candle = Candle(
        open_time_ms=open_time,
        open=_decimal(row[1]),
        high=_decimal(row[2]),
        low=_decimal(row[3]),
        close=_decimal(row[4]),
        volume=_decimal(row[5]),
        quote_volume=_decimal(row[7]),
        trades=trades,
        taker_buy_volume=None if row[9] is None else _decimal(row[9]),
        taker_buy_quote_volume=None if row[10] is None else _decimal(row[10]),
        timeframe=timeframe,
    )
    if timeframe.bucket_start(open_time) != open_time or candle.close_time_ms != close_time:
        raise ValueError(f"kline {open_time}..{close_time} is not one {timeframe.value} bucket")
    return candle


def aggregate(
    subs: Iterable[Candle], timeframe: Timeframe, *, traded: Traded = has_trades
) -> list[Candle]:
    """Build the ``timeframe`` candles from smaller candles of any width (1m, 1h, 1d...).

    Only buckets holding at least one sub-candle appear: gaps are never filled in.
    """
    out: list[Candle] = []
    group: list[Candle] = []
    start = end = previous = 0
    for sub in sorted(subs, key=_open_time):
        at = sub.open_time_ms
        if group and at == previous:
            raise ValueError(f"two sub-candles open at {at}")
        if not group or at >= end:
            if group:
                out.append(build_bucket(start, timeframe, group, traded=traded))
            start = timeframe.bucket_start(at)
            end = timeframe.next_start(start)
            group = []
        if sub.timeframe.next_start(at) > end:
            raise ValueError(f"a {sub.timeframe.value} candle at {at} spans two buckets")
        group.append(sub)
        previous = at
    if group:
        out.append(build_bucket(start, timeframe, group, traded=traded))
    return out


def build_bucket(
    start_ms: int, timeframe: Timeframe, subs: Sequence[Candle], *, traded: Traded = has_trades
) -> Candle:
    """The Binance rule for one bucket, given its sub-candles in time order.

    Prices come from the traded sub-candles only; volumes and trades are summed over all.
    When nothing traded, every placeholder carries the previous close, so the first one
    stands for the bucket.
    """
    if not subs:
        raise ValueError("a bucket needs at least one sub-candle")
    real = [sub for sub in subs if traded(sub)]
    if real:
        first, last = real[0], real[-1]
        high = max(sub.high for sub in real)
        low = min(sub.low for sub in real)
    else:
        first = last = subs[0]
        high, low = first.high, first.low
    return Candle(
        open_time_ms=start_ms,
        open=first.open,
        high=high,
        low=low,
        close=last.close,
        volume=_sum(sub.volume for sub in subs),
        quote_volume=_sum(sub.quote_volume for sub in subs),
        trades=_count(sub.trades for sub in subs),
        taker_buy_volume=_known_sum(sub.taker_buy_volume for sub in subs),
        taker_buy_quote_volume=_known_sum(sub.taker_buy_quote_volume for sub in subs),
        timeframe=timeframe,
    )


def _sum(values: Iterable[Decimal]) -> Decimal:
    total = _ZERO
    for value in values:
        total = EXACT.add(total, value)
    return total


def _known_sum(values: Iterable[Decimal | None]) -> Decimal | None:
    """The exact sum of the known values, None when none is known (SQL's `sum`)."""
    known = [value for value in values if value is not None]
    return _sum(known) if known else None


def _count(counts: Iterable[int | None]) -> int | None:
    """The sum of the known counts, None when none is known (SQL's `sum`)."""
    known = [count for count in counts if count is not None]
    return sum(known) if known else None


def _open_time(candle: Candle) -> int:
    return candle.open_time_ms


def _int(value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _decimal(value: object) -> Decimal:
    if not isinstance(value, str):
        raise ValueError(f"expected a decimal string, got {value!r}")
    return parse_decimal(value)
