"""SQL of `candle_rollups`, shared by the api-server's rollup maintainer and the collector's
backfill: the Binance aggregation rule of `linkora_core.candles.aggregate` written set-wise in
SQL, the statement that stores a span of buckets, and the frontiers it works from. Times cross
the boundary as epoch ms."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from linkora_core.candle_columns import VALUE_COLUMNS, VALUES, assignments
from linkora_core.db import Executor
from linkora_core.epoch import MINUTE_MS, to_datetime, to_ms
from linkora_core.markets import Market
from linkora_core.timeframes import Timeframe

FIELDS = f"open_time, {VALUES}"

Segment = tuple[Timeframe, int | None, int | None]
"""Stored candles of one timeframe with lo <= open_time < hi (None = unbounded)."""


async def rolled_until(
    db: Executor, market: Market, timeframes: Iterable[Timeframe]
) -> dict[Timeframe, int | None]:
    """For each timeframe, the end of its newest stored rollup (None when there is none)."""
    wanted = [tf for tf in timeframes if tf is not Timeframe.MINUTE_1]
    if not wanted:
        return {}
    rows = await db.fetch(
        "SELECT tf, (SELECT open_time FROM candle_rollups WHERE venue = $1 AND symbol = $2 "
        "AND timeframe = tf ORDER BY open_time DESC LIMIT 1) FROM unnest($3::text[]) AS tf",
        *key(market),
        [tf.value for tf in wanted],
    )
    out: dict[Timeframe, int | None] = {}
    for label, newest in rows:
        tf = Timeframe(label)
        out[tf] = None if newest is None else tf.next_start(to_ms(newest))
    return out


async def closed_horizon(db: Executor, market: Market) -> int | None:
    """End of the newest closed minute: every bucket ending at or before it is closed."""
    newest = await db.fetchval(
        "SELECT open_time FROM candles WHERE venue = $1 AND symbol = $2 AND is_closed "
        "ORDER BY open_time DESC LIMIT 1",
        *key(market),
    )
    return None if newest is None else to_ms(newest) + MINUTE_MS


async def first_minute(db: Executor, market: Market) -> int | None:
    oldest = await db.fetchval(
        "SELECT open_time FROM candles WHERE venue = $1 AND symbol = $2 ORDER BY open_time LIMIT 1",
        *key(market),
    )
    return None if oldest is None else to_ms(oldest)


def bucket_sql(timeframe: Timeframe, column: str = "open_time") -> str:
    """The start of the `timeframe` bucket holding `column`, in SQL, exactly as
    `Timeframe.bucket_start` computes it (timestamptz arithmetic is UTC, whatever the session
    time zone: date_bin counts absolute time and the month is truncated in UTC)."""
    if timeframe is Timeframe.MONTH_1:
        return f"date_trunc('month', {column}, 'UTC')"
    width = timeframe.width_ms
    assert width is not None
    origin = "1970-01-05" if timeframe is Timeframe.WEEK_1 else "1970-01-01"
    return f"date_bin('{width // MINUTE_MS} minutes', {column}, timestamptz '{origin} 00:00:00+00')"


# The Binance rule over a source of candles (`src`: open_time and the value columns): prices
# from the sub-candles that traded (first open, highest high, lowest low, last close; "traded"
# is a trade count above zero, or where the exchange publishes no count, a volume), the
# first sub-candle's O/H/L/C when none did, sums over all. First and last are found by time:
# the earliest and latest open times are cheap aggregates, and the arrays, built from the
# same rows in the same order within one aggregation, give the prices at those times (no
# per-group sort, which every ordered aggregate would cost).
_AGGREGATE = """
SELECT bucket AS open_time,
       opens[array_position(times, coalesce(first_traded, first_any))] AS open_price,
       coalesce(high, highs[array_position(times, first_any)]) AS high_price,
       coalesce(low, lows[array_position(times, first_any)]) AS low_price,
       closes[array_position(times, coalesce(last_traded, first_any))] AS close_price,
       volume, quote_volume, trades, taker_buy_volume, taker_buy_quote_volume
FROM (
    SELECT $BUCKET AS bucket,
           array_agg(open_time) AS times, array_agg(open_price) AS opens,
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
    FROM (SELECT *, coalesce(trades > 0, volume > 0) AS traded FROM ($SOURCE) AS s) AS src
    GROUP BY 1
) AS agg
"""


def _segments_sql(segments: Sequence[Segment], args: list[object]) -> str:
    """`SELECT open_time, values` of each segment, UNION ALL; appends the arguments (the
    venue is $1, the symbol $2)."""
    parts: list[str] = []
    for timeframe, lo, hi in segments:
        n = len(args)
        where = (
            "venue = $1 AND symbol = $2 "
            f"AND open_time >= coalesce(${n + 1}::timestamptz, '-infinity') "
            f"AND open_time < coalesce(${n + 2}::timestamptz, 'infinity')"
        )
        args += [at(lo), at(hi)]
        if timeframe is Timeframe.MINUTE_1:
            parts.append(f"SELECT {FIELDS} FROM candles WHERE {where}")
        else:
            parts.append(
                f"SELECT {FIELDS} FROM candle_rollups WHERE {where} AND timeframe = ${n + 3}"
            )
            args.append(timeframe.value)
    return " UNION ALL ".join(parts)


def aggregate_sql(timeframe: Timeframe, segments: Sequence[Segment], args: list[object]) -> str:
    """The `timeframe` buckets aggregated by PostgreSQL from the segments' candles (each a
    whole number of them per bucket), columns open_time and VALUE_COLUMNS."""
    return _AGGREGATE.replace("$BUCKET", bucket_sql(timeframe)).replace(
        "$SOURCE", _segments_sql(segments, args)
    )


async def roll_up(
    db: Executor,
    market: Market,
    timeframe: Timeframe,
    source: Timeframe,
    lo: int,
    hi: int,
    *,
    replace: bool,
) -> int:
    """Store the `timeframe` buckets in [lo, hi) (bucket starts) aggregated from the stored
    `source` candles, in one statement; returns how many. `replace`: buckets may be stored
    already (they are updated, and stored ones the source no longer makes are deleted);
    otherwise the range is new and a plain insert does."""
    args: list[object] = list(key(market))
    sql = aggregate_sql(timeframe, [(source, lo, hi)], args)
    args.append(timeframe.value)
    label = f"${len(args)}"
    insert = (
        f"INSERT INTO candle_rollups (venue, symbol, timeframe, {FIELDS}) "
        f"SELECT $1, $2, {label}, {FIELDS} FROM agg"
    )
    if not replace:
        status = await db.execute(f"WITH agg AS ({sql}) {insert}", *args)
        return int(status.rsplit(" ", 1)[1])
    count = await db.fetchval(
        f"""
        WITH agg AS MATERIALIZED ({sql}),
        stored AS (
            {insert}
            ON CONFLICT (venue, symbol, timeframe, open_time)
                DO UPDATE SET {assignments(VALUE_COLUMNS)}
        ),
        dropped AS (
            DELETE FROM candle_rollups r WHERE r.venue = $1 AND r.symbol = $2
                AND r.timeframe = {label} AND r.open_time >= $3 AND r.open_time < $4
                AND NOT EXISTS (SELECT 1 FROM agg WHERE agg.open_time = r.open_time)
        )
        SELECT count(*) FROM agg
        """,
        *args,
    )
    return int(count)


def key(market: Market) -> tuple[str, str]:
    """A market's key columns (venue, symbol), the first two arguments of every statement."""
    return market.venue.key, market.symbol


def at(ms: int | None) -> datetime | None:
    return None if ms is None else to_datetime(ms)
