"""One kline as integers, and its Binance wire forms (pure).

Every price and volume is an integer count of 1e-8 units, so "42000.10000000" is
4_200_010_000_000. Nothing here touches floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

UNIT = 100_000_000  # 1e8: Binance prints every decimal with 8 places

KlineRow = list[int | str]


class Candle(NamedTuple):
    open_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int
    taker_base: int
    taker_quote: int


def decimal_str(units: int) -> str:
    """4_200_010_000_000 -> "42000.10000000"."""
    whole, frac = divmod(units, UNIT)
    return f"{whole}.{frac:08d}"


def units_of(text: str) -> int:
    """Parse a non-negative decimal string ("130.5", "1e-3" is not accepted) into 1e-8 units."""
    whole, _, frac = text.strip().partition(".")
    if len(frac) > 8 or not (whole or frac) or not (whole + frac).isdigit():
        raise ValueError(f"not a decimal with at most 8 places: {text!r}")
    return int(whole or "0") * UNIT + int((frac + "00000000")[:8])


def to_row(candle: Candle, close_ms: int) -> KlineRow:
    """The 12-element REST array, as a JSON parser would return it."""
    return [
        candle.open_ms,
        decimal_str(candle.open),
        decimal_str(candle.high),
        decimal_str(candle.low),
        decimal_str(candle.close),
        decimal_str(candle.volume),
        close_ms,
        decimal_str(candle.quote_volume),
        candle.trades,
        decimal_str(candle.taker_base),
        decimal_str(candle.taker_quote),
        "0",
    ]


def from_row(row: Sequence[int | str]) -> Candle:
    """The inverse of `to_row`: a candle from Binance's kline columns (the close time and the
    unused 12th column are not kept)."""
    o, h, lo, c, v, q = (units_of(str(row[i])) for i in (1, 2, 3, 4, 5, 7))
    return Candle(
        int(row[0]), o, h, lo, c, v, q, int(row[8]), units_of(str(row[9])), units_of(str(row[10]))
    )


_ROW = (
    '[%d,"%d.%08d","%d.%08d","%d.%08d","%d.%08d","%d.%08d",%d,"%d.%08d",%d,"%d.%08d","%d.%08d","0"]'
)


def rows_json(candles: Sequence[Candle], width_ms: int) -> list[bytes]:
    """Serialized REST arrays of fixed-width candles, one bytes object each (the hot path)."""
    u = UNIT
    fmt = _ROW
    out: list[bytes] = []
    append = out.append
    for t, o, h, lo, c, v, q, n, tb, tq in candles:
        s = fmt % (
            t,
            o // u, o % u,
            h // u, h % u,
            lo // u, lo % u,
            c // u, c % u,
            v // u, v % u,
            t + width_ms - 1,
            q // u, q % u,
            n,
            tb // u, tb % u,
            tq // u, tq % u,
        )  # fmt: skip
        append(s.encode())
    return out


def row_json(candle: Candle, close_ms: int) -> bytes:
    return rows_json([candle], close_ms - candle.open_ms + 1)[0]


def partial(candle: Candle, elapsed_ms: int, width_ms: int, tick: int = 1) -> Candle:
    """The candle as seen `elapsed_ms` into its interval: it grows monotonically into `candle`.

    The close moves from open toward the final close, the wicks and the volumes grow in
    proportion, so a high never falls and a low never rises while the candle is open.
    Prices stay on multiples of `tick` (in 1e-8 units).
    """
    if elapsed_ms >= width_ms:
        return candle
    k, w = max(elapsed_ms, 0), width_ms
    o, c = candle.open, candle.close
    now_close = o + (c - o) * k // w // tick * tick
    top, bottom = max(o, c), min(o, c)
    high = max(o, now_close) + (candle.high - top) * k // w // tick * tick
    low = min(o, now_close) - (bottom - candle.low) * k // w // tick * tick
    trades = candle.trades * k // w
    if candle.trades and not trades:
        trades = 1
    return Candle(
        candle.open_ms,
        o,
        high,
        low,
        now_close,
        candle.volume * k // w,
        candle.quote_volume * k // w,
        trades,
        candle.taker_base * k // w,
        candle.taker_quote * k // w,
    )


def aggregate(open_ms: int, subs: Sequence[Candle]) -> Candle:
    """Binance's rule: prices from sub-candles that traded, sums over all of them.

    A bucket where nothing traded keeps the placeholder price (the previous close).
    """
    traded = [c for c in subs if c.trades > 0 or c.volume > 0]
    if traded:
        o, c = traded[0].open, traded[-1].close
        h = max(x.high for x in traded)
        lo = min(x.low for x in traded)
    else:
        o = h = lo = c = subs[-1].close
    return Candle(
        open_ms,
        o,
        h,
        lo,
        c,
        sum(x.volume for x in subs),
        sum(x.quote_volume for x in subs),
        sum(x.trades for x in subs),
        sum(x.taker_base for x in subs),
        sum(x.taker_quote for x in subs),
    )
