"""What the collector announces to other applications through the outbox (issue 18), and the
reads that need the database: each message is built by `linkora_core.market_announcements`
and written by the caller in the transaction of the rows it announces.

- A closed minute written live: its `crypto.kline.updated...1` message, and for each larger
  timeframe published, every bucket that minute closes (its end passed the market's newest
  closed minute before the write), aggregated in SQL from the stored minutes by the Binance
  rule (`rollup_sql`) in the same transaction, so the message is the bucket REST /candles
  serves. A bucket is announced once (its id is the market, timeframe and open time): minutes
  of it stored after it closed (a catch-up behind the stream, an audit) are not announced
  again; REST has them.
- The live minute's price, at most once per market per `price_interval_ms`.
- Every book stored (already throttled at orderbook_store_interval).
- One `crypto.historical.updated` per market per committed bulk chunk (candle_writes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg

from linkora_core import market_announcements, rollup_sql
from linkora_core.candle_columns import candle
from linkora_core.candles import LiveCandle
from linkora_core.epoch import MINUTE_MS, to_ms
from linkora_core.markets import Market, venue_of_key
from linkora_core.outbox import Message
from linkora_core.timeframes import Timeframe


@dataclass(frozen=True, slots=True)
class Announce:
    """Which market messages the collector writes: the timeframes whose closed candles are
    announced (1m and larger), the price throttle (0: no price messages), books, backfill
    chunks."""

    kline_timeframes: tuple[Timeframe, ...] = (Timeframe.MINUTE_1,)
    price_interval_ms: int = 1000
    books: bool = True
    historical: bool = True

    @property
    def larger(self) -> tuple[Timeframe, ...]:
        return tuple(tf for tf in self.kline_timeframes if tf is not Timeframe.MINUTE_1)


NOTHING = Announce((), 0, books=False, historical=False)


@dataclass(slots=True)
class PriceSampler:
    """At most one price message per market per `interval_ms` (0: none). `due` picks the
    batch's messages; `sent` records them once their transaction committed, so a write that
    failed takes its sample again with the retry."""

    interval_ms: int
    _last: dict[Market, int] = field(default_factory=dict)

    def due(self, candles: Iterable[LiveCandle], now_ms: int) -> dict[Market, Message]:
        if self.interval_ms <= 0:
            return {}
        newest: dict[Market, LiveCandle] = {}
        for live in candles:
            known = newest.get(live.market)
            if known is None or live.candle.open_time_ms >= known.candle.open_time_ms:
                newest[live.market] = live
        out: dict[Market, Message] = {}
        for market, live in newest.items():
            last = self._last.get(market)
            if last is None or now_ms - last >= self.interval_ms:
                out[market] = market_announcements.price_message(
                    market, live.candle, live.closed, now_ms
                )
        return out

    def sent(self, markets: Iterable[Market], now_ms: int) -> None:
        for market in markets:
            self._last[market] = now_ms


_NEWEST_CLOSED = """
SELECT m.venue, m.symbol,
       (SELECT open_time FROM candles WHERE venue = m.venue AND symbol = m.symbol AND is_closed
        ORDER BY open_time DESC LIMIT 1) AS newest
FROM unnest($1::text[], $2::text[]) AS m(venue, symbol)
"""


async def newest_closed(
    connection: asyncpg.Connection, markets: Sequence[Market]
) -> dict[Market, int]:
    """The open time of each market's newest stored closed minute (markets with none left
    out); read in the writing transaction before its minutes are stored."""
    if not markets:
        return {}
    rows = await connection.fetch(
        _NEWEST_CLOSED, [m.venue.key for m in markets], [m.symbol for m in markets]
    )
    return {
        Market(venue_of_key(r["venue"]), r["symbol"]): to_ms(r["newest"])
        for r in rows
        if r["newest"] is not None
    }


def closing_ranges(
    timeframes: Sequence[Timeframe], before_ms: int | None, closed: Sequence[int]
) -> list[tuple[Timeframe, int, int]]:
    """The bucket starts [lo, hi) of each timeframe that closed minutes opening at `closed`
    close, given the newest closed minute before them (`before_ms`, None: there was none).
    Pure: a bucket is closed once a minute at or past its end is closed."""
    if not closed:
        return []
    end = max(closed) + MINUTE_MS
    frontier = min(closed) if before_ms is None else before_ms + MINUTE_MS
    out = []
    for timeframe in timeframes:
        lo, hi = timeframe.bucket_start(frontier), timeframe.bucket_start(end)
        if lo < hi:
            out.append((timeframe, lo, hi))
    return out


async def closed_buckets(
    connection: asyncpg.Connection, market: Market, ranges: Sequence[tuple[Timeframe, int, int]]
) -> list[Message]:
    """The kline messages of the buckets in `ranges`, aggregated from the stored minutes (one
    statement for all timeframes); buckets without a stored minute do not exist."""
    if not ranges:
        return []
    args: list[object] = list(rollup_sql.key(market))
    parts: list[str] = []
    for timeframe, lo, hi in ranges:
        sql = rollup_sql.aggregate_sql(timeframe, [(Timeframe.MINUTE_1, lo, hi)], args)
        args.append(timeframe.value)
        parts.append(f"SELECT ${len(args)}::text AS tf, * FROM ({sql}) AS b{len(parts)}")
    rows = await connection.fetch(" UNION ALL ".join(parts) + " ORDER BY 1, 2", *args)
    return [
        market_announcements.candle_message(
            market, candle(to_ms(row["open_time"]), tuple(row)[2:], Timeframe(row["tf"]))
        )
        for row in rows
    ]
