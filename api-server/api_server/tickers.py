"""24-hour tickers from the stored candles: the 1,440 minutes ending with a market's newest
one, read as the stored 1H, 15m and 5m rollups where they cover whole buckets of the window
and minutes for the rest (about 50 rows a market, every one found by a primary key), then
folded by PostgreSQL with the Binance rule (`linkora_core.candles.build_bucket`'s: prices from
the sub-candles that traded, sums over all). Two round trips for any number of markets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from linkora_core.candle_columns import VALUES, candle
from linkora_core.candles import Candle
from linkora_core.db import Executor
from linkora_core.decimals import to_plain
from linkora_core.epoch import DAY_MS, MINUTE_MS, to_datetime, to_ms
from linkora_core.markets import Market
from linkora_core.rollup_sql import Segment
from linkora_core.timeframes import Timeframe

# Coarsest first; each is rolled up (the maintainer's chain 1m -> 5m -> 15m -> 1H).
LEVELS = (Timeframe.HOUR_1, Timeframe.MINUTE_15, Timeframe.MINUTE_5)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Ticker:
    market: Market
    day: Candle  # the window as one candle (open time: the window's first minute)
    last_minute_ms: int

    @property
    def change(self) -> Decimal:
        return self.day.close - self.day.open

    @property
    def change_percent(self) -> Decimal:
        """Rounded half-even to two places, as `/price`; 0 from an opening price of 0."""
        if not self.day.open:
            return Decimal(0)
        return (self.change * 100 / self.day.open).quantize(_CENT, ROUND_HALF_EVEN)

    def fields(self) -> dict[str, Any]:
        """The REST ticker object (`GET /tickers`)."""
        day = self.day
        return {
            "exchange": self.market.venue.exchange.value,
            "kind": self.market.venue.kind.value,
            "symbol": self.market.symbol,
            "last_price": to_plain(day.close),
            "open_24h": to_plain(day.open),
            "high_24h": to_plain(day.high),
            "low_24h": to_plain(day.low),
            "volume_24h": to_plain(day.volume),
            "quote_volume_24h": to_plain(day.quote_volume),
            "change_24h": to_plain(self.change),
            "change_percent_24h": to_plain(self.change_percent),
            "timestamp": self.last_minute_ms,
        }


def window_segments(
    lo: int,
    hi: int,
    frontiers: Mapping[Timeframe, int | None],
    levels: Sequence[Timeframe] = LEVELS,
) -> list[Segment]:
    """Disjoint stored runs covering [lo, hi): whole buckets of the coarsest level that are
    stored (before its frontier), the edges from the finer levels, minutes for the rest."""
    if lo >= hi:
        return []
    if not levels:
        return [(Timeframe.MINUTE_1, lo, hi)]
    timeframe, finer = levels[0], levels[1:]
    width = timeframe.width_ms
    frontier = frontiers.get(timeframe)
    assert width is not None
    start = -(-lo // width) * width
    if frontier is None:
        return window_segments(lo, hi, frontiers, finer)
    end = min(hi, frontier) // width * width
    if end <= start:
        return window_segments(lo, hi, frontiers, finer)
    return [
        *window_segments(lo, start, frontiers, finer),
        (timeframe, start, end),
        *window_segments(end, hi, frontiers, finer),
    ]


async def tickers(db: Executor, markets: Sequence[Market]) -> list[Ticker]:
    """The tickers of the markets that have minutes, in the given order."""
    if not markets:
        return []
    # The newest minute and the newest stored rollup of each level, by their primary keys.
    newest_rollups = ", ".join(
        f"(SELECT open_time FROM candle_rollups r WHERE r.venue = m.venue "
        f"AND r.symbol = m.symbol AND r.timeframe = ${n} ORDER BY open_time DESC LIMIT 1)"
        for n in range(3, 3 + len(LEVELS))
    )
    rows = await db.fetch(
        f"""SELECT (SELECT open_time FROM candles c WHERE c.venue = m.venue
                    AND c.symbol = m.symbol ORDER BY open_time DESC LIMIT 1), {newest_rollups}
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS m(venue, symbol, n)
           ORDER BY m.n""",
        [m.venue.key for m in markets],
        [m.symbol for m in markets],
        *(tf.value for tf in LEVELS),
    )
    wanted: list[tuple[Market, int, list[Segment]]] = []
    for market, (newest, *stored) in zip(markets, rows, strict=True):
        if newest is None:
            continue
        frontiers = {
            tf: None if at is None else tf.next_start(to_ms(at))
            for tf, at in zip(LEVELS, stored, strict=True)
        }
        last = to_ms(newest)
        hi = last + MINUTE_MS
        wanted.append((market, last, window_segments(hi - DAY_MS, hi, frontiers)))
    days = await _fold(db, wanted)
    # A market whose minutes went between the two statements has no pieces: no ticker.
    return [
        Ticker(market, days[i], last) for i, (market, last, _) in enumerate(wanted) if i in days
    ]


# The Binance rule over each market's pieces (as `build_bucket` and `rollup_sql` apply it):
# prices from the pieces that traded (a trade count above zero, or a volume where the exchange
# counts none), the first piece's when none did, sums over all. Arrays built from the same
# rows in one aggregation share their order, so the prices at the first and last traded times
# are found without sorting.
_FOLD = f"""
SELECT i, opens[array_position(times, coalesce(first_traded, first_any))],
       coalesce(high, highs[array_position(times, first_any)]),
       coalesce(low, lows[array_position(times, first_any)]),
       closes[array_position(times, coalesce(last_traded, first_any))],
       volume, quote_volume, trades, taker_buy_volume, taker_buy_quote_volume
FROM (
    SELECT i, array_agg(open_time) AS times, array_agg(open_price) AS opens,
           array_agg(high_price) AS highs, array_agg(low_price) AS lows,
           array_agg(close_price) AS closes,
           min(open_time) FILTER (WHERE traded) AS first_traded,
           max(open_time) FILTER (WHERE traded) AS last_traded,
           min(open_time) AS first_any,
           max(high_price) FILTER (WHERE traded) AS high,
           min(low_price) FILTER (WHERE traded) AS low,
           sum(volume) AS volume, sum(quote_volume) AS quote_volume,
           sum(trades)::bigint AS trades, sum(taker_buy_volume) AS taker_buy_volume,
           sum(taker_buy_quote_volume) AS taker_buy_quote_volume
    FROM (
        SELECT s.i, x.*, coalesce(x.trades > 0, x.volume > 0) AS traded
        FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                    $6::timestamptz[]) AS s(i, venue, symbol, tf, lo, hi)
        -- One-time filters on s.tf make each branch read only its own table.
        CROSS JOIN LATERAL (
            SELECT open_time, {VALUES} FROM candles c
            WHERE s.tf = '1' AND c.venue = s.venue AND c.symbol = s.symbol
              AND c.open_time >= s.lo AND c.open_time < s.hi
            UNION ALL
            SELECT open_time, {VALUES} FROM candle_rollups r
            WHERE s.tf <> '1' AND r.venue = s.venue AND r.symbol = s.symbol
              AND r.timeframe = s.tf AND r.open_time >= s.lo AND r.open_time < s.hi
        ) AS x
    ) AS pieces
    GROUP BY i
) AS agg
"""


async def _fold(
    db: Executor, wanted: Sequence[tuple[Market, int, Sequence[Segment]]]
) -> dict[int, Candle]:
    """Each market's window as one candle, folded by the database in one statement, by the
    market's index in `wanted`."""
    index: list[int] = []
    venues: list[str] = []
    symbols: list[str] = []
    frames: list[str] = []
    los: list[object] = []
    his: list[object] = []
    for i, (market, _, segments) in enumerate(wanted):
        for timeframe, lo, hi in segments:
            assert lo is not None and hi is not None
            index.append(i)
            venues.append(market.venue.key)
            symbols.append(market.symbol)
            frames.append(timeframe.value)
            los.append(to_datetime(lo))
            his.append(to_datetime(hi))
    if not index:
        return {}
    rows = await db.fetch(_FOLD, index, venues, symbols, frames, los, his)
    return {
        row[0]: candle(wanted[row[0]][1] + MINUTE_MS - DAY_MS, row[1:], Timeframe.DAY_1)
        for row in rows
    }
