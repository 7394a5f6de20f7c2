"""SQL for the candle tables: 1m minutes in `candles`, closed larger buckets in
`candle_rollups`. Every query is parameterised; times cross the boundary as epoch ms."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from linkora_core import candle_columns
from linkora_core.candle_columns import VALUE_COLUMNS, VALUES, assignments
from linkora_core.candles import Candle
from linkora_core.db import Executor
from linkora_core.epoch import MINUTE_MS, to_datetime, to_ms
from linkora_core.timeframes import Timeframe

_FIELDS = f"open_time, {VALUES}"

Segment = tuple[Timeframe, int | None, int | None]
"""Stored candles of one timeframe with lo <= open_time < hi (None = unbounded)."""


def _candle(row: Sequence[Any], timeframe: Timeframe) -> Candle:
    return candle_columns.candle(to_ms(row[0]), row[1:], timeframe)


def _span(
    symbol: str,
    timeframe: Timeframe,
    lo: int | None,
    hi: int | None,
    limit: int | None = None,
    *,
    newest_first: bool = False,
) -> tuple[str, list[object]]:
    """`FROM ... ORDER BY ... [LIMIT ...]` of the stored candles with lo <= open_time < hi
    (None = unbounded) and its arguments: 1m lives in candles, the rest in rollups."""
    table = "candles WHERE symbol = $1"
    args: list[object] = [symbol, _at(lo), _at(hi)]
    if timeframe is not Timeframe.MINUTE_1:
        table = "candle_rollups WHERE symbol = $1 AND timeframe = $4"
        args.append(timeframe.value)
    sql = (
        f"FROM {table} AND open_time >= coalesce($2::timestamptz, '-infinity') "
        f"AND open_time < coalesce($3::timestamptz, 'infinity') "
        f"ORDER BY open_time {'DESC' if newest_first else 'ASC'}"
    )
    if limit is not None:
        args.append(limit)
        sql += f" LIMIT ${len(args)}"
    return sql, args


async def read_range(
    db: Executor, symbol: str, timeframe: Timeframe, lo: int | None, hi: int | None
) -> list[Candle]:
    """Stored candles with lo <= open_time < hi (None = unbounded), oldest first."""
    span, args = _span(symbol, timeframe, lo, hi)
    rows = await db.fetch(f"SELECT {_FIELDS} {span}", *args)
    return [_candle(row, timeframe) for row in rows]


async def read_segments(db: Executor, symbol: str, segments: Sequence[Segment]) -> list[Candle]:
    """Candles of several (timeframe, lo, hi) ranges in one round trip, in no set order."""
    parts: list[str] = []
    args: list[object] = [symbol]
    for timeframe, lo, hi in segments:
        n = len(args)
        bounds = (
            f"open_time >= coalesce(${n + 1}::timestamptz, '-infinity') "
            f"AND open_time < coalesce(${n + 2}::timestamptz, 'infinity')"
        )
        if timeframe is Timeframe.MINUTE_1:
            parts.append(f"SELECT '1' AS tf, {_FIELDS} FROM candles WHERE symbol = $1 AND {bounds}")
            args += [_at(lo), _at(hi)]
        else:
            parts.append(
                f"SELECT timeframe, {_FIELDS} FROM candle_rollups WHERE symbol = $1 "
                f"AND timeframe = ${n + 3} AND {bounds}"
            )
            args += [_at(lo), _at(hi), timeframe.value]
    if not parts:
        return []
    rows = await db.fetch(" UNION ALL ".join(parts), *args)
    return [_candle(row[1:], Timeframe(row[0])) for row in rows]


async def read_page(
    db: Executor,
    symbol: str,
    timeframe: Timeframe,
    lo: int | None,
    hi: int | None,
    limit: int,
    *,
    newest_first: bool,
) -> list[Candle]:
    """At most `limit` stored candles in [lo, hi), from the newest or the oldest end."""
    span, args = _span(symbol, timeframe, lo, hi, limit, newest_first=newest_first)
    rows = await db.fetch(f"SELECT {_FIELDS} {span}", *args)
    return [_candle(row, timeframe) for row in rows]


# Interval literals for the close time of a bucket (open + width - 1 ms, in UTC).
_WIDTH_SQL = {
    Timeframe.MINUTE_1: "1 minute",
    Timeframe.MINUTE_3: "3 minutes",
    Timeframe.MINUTE_5: "5 minutes",
    Timeframe.MINUTE_15: "15 minutes",
    Timeframe.MINUTE_30: "30 minutes",
    Timeframe.MINUTE_45: "45 minutes",
    Timeframe.HOUR_1: "1 hour",
    Timeframe.HOUR_2: "2 hours",
    Timeframe.HOUR_3: "3 hours",
    Timeframe.HOUR_4: "4 hours",
    Timeframe.DAY_1: "1 day",
    Timeframe.WEEK_1: "7 days",
    Timeframe.MONTH_1: "1 month",
}
# The REST candle object, written by PostgreSQL: numerics as minimal plain decimals
# (trim_scale; numeric text never uses an exponent), times as the wire's ISO strings.
_REST_OBJECT = """format(
    '{"timestamp":%s,"open_time":"%s","close_time":"%s","open_price":"%s","high_price":"%s",'
    '"low_price":"%s","close_price":"%s","volume":"%s","quote_volume":"%s","trades":%s,'
    '"taker_buy_volume":"%s","taker_buy_quote_volume":"%s"}',
    (extract(epoch FROM open_time) * 1000)::bigint,
    to_char(open_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
    to_char((open_time AT TIME ZONE 'UTC') + $WIDTH::text::interval - interval '1 millisecond',
            'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
    trim_scale(open_price), trim_scale(high_price), trim_scale(low_price),
    trim_scale(close_price), trim_scale(volume), trim_scale(quote_volume), trades,
    trim_scale(taker_buy_volume), trim_scale(taker_buy_quote_volume))"""


async def render_page(
    db: Executor,
    symbol: str,
    timeframe: Timeframe,
    lo: int | None,
    hi: int | None,
    limit: int,
    *,
    newest_first: bool,
) -> tuple[str, int, int | None, int | None]:
    """Like `read_page`, as REST JSON objects joined by commas. Returns the text, how many,
    the open time of the last one in page order and the newest open time."""
    span, args = _span(symbol, timeframe, lo, hi, limit, newest_first=newest_first)
    body = _REST_OBJECT.replace("$WIDTH", f"${len(args) + 1}")
    row = await db.fetchrow(
        f"SELECT coalesce(string_agg(body, ',' ORDER BY open_time "
        f"{'DESC' if newest_first else 'ASC'}), ''), count(*), "
        f"{'min' if newest_first else 'max'}(open_time), max(open_time) FROM ("
        f"SELECT open_time, {body} AS body {span}) AS page",
        *args,
        _WIDTH_SQL[timeframe],
    )
    assert row is not None
    last, newest = row[2], row[3]
    return (
        row[0],
        row[1],
        None if last is None else to_ms(last),
        None if newest is None else to_ms(newest),
    )


async def rolled_until(
    db: Executor, symbol: str, timeframes: Iterable[Timeframe]
) -> dict[Timeframe, int | None]:
    """For each timeframe, the end of its newest stored rollup (None when there is none)."""
    wanted = [tf for tf in timeframes if tf is not Timeframe.MINUTE_1]
    if not wanted:
        return {}
    rows = await db.fetch(
        "SELECT tf, (SELECT open_time FROM candle_rollups WHERE symbol = $1 AND timeframe = tf "
        "ORDER BY open_time DESC LIMIT 1) FROM unnest($2::text[]) AS tf",
        symbol,
        [tf.value for tf in wanted],
    )
    out: dict[Timeframe, int | None] = {}
    for label, newest in rows:
        tf = Timeframe(label)
        out[tf] = None if newest is None else tf.next_start(to_ms(newest))
    return out


async def closed_horizon(db: Executor, symbol: str) -> int | None:
    """End of the newest closed minute: every bucket ending at or before it is closed."""
    newest = await db.fetchval(
        "SELECT open_time FROM candles WHERE symbol = $1 AND is_closed "
        "ORDER BY open_time DESC LIMIT 1",
        symbol,
    )
    return None if newest is None else to_ms(newest) + MINUTE_MS


async def first_minute(db: Executor, symbol: str) -> int | None:
    oldest = await db.fetchval(
        "SELECT open_time FROM candles WHERE symbol = $1 ORDER BY open_time LIMIT 1", symbol
    )
    return None if oldest is None else to_ms(oldest)


async def symbols(db: Executor) -> list[str]:
    """Every symbol with candles (a loose index scan: fast on millions of rows) or collector
    state, sorted."""
    rows = await db.fetch(
        """
        WITH RECURSIVE s(symbol) AS (
            (SELECT symbol FROM candles ORDER BY symbol LIMIT 1)
            UNION ALL
            SELECT (SELECT c.symbol FROM candles c WHERE c.symbol > s.symbol
                    ORDER BY c.symbol LIMIT 1)
            FROM s WHERE s.symbol IS NOT NULL
        )
        SELECT symbol FROM s WHERE symbol IS NOT NULL
        UNION SELECT symbol FROM collector_state
        ORDER BY symbol
        """
    )
    return [row[0] for row in rows]


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
# from the sub-candles that traded (first open, highest high, lowest low, last close), the
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
           min(open_time) FILTER (WHERE trades > 0) AS first_traded,
           max(open_time) FILTER (WHERE trades > 0) AS last_traded,
           min(open_time) AS first_any,
           max(high_price) FILTER (WHERE trades > 0) AS high,
           min(low_price) FILTER (WHERE trades > 0) AS low,
           sum(volume) AS volume, sum(quote_volume) AS quote_volume,
           sum(trades)::bigint AS trades, sum(taker_buy_volume) AS taker_buy_volume,
           sum(taker_buy_quote_volume) AS taker_buy_quote_volume
    FROM ($SOURCE) AS src
    GROUP BY 1
) AS agg
"""


def _segments_sql(segments: Sequence[Segment], args: list[object]) -> str:
    """`SELECT open_time, values` of each segment, UNION ALL; appends the arguments (the
    symbol is $1)."""
    parts: list[str] = []
    for timeframe, lo, hi in segments:
        n = len(args)
        where = (
            f"symbol = $1 AND open_time >= coalesce(${n + 1}::timestamptz, '-infinity') "
            f"AND open_time < coalesce(${n + 2}::timestamptz, 'infinity')"
        )
        args += [_at(lo), _at(hi)]
        if timeframe is Timeframe.MINUTE_1:
            parts.append(f"SELECT {_FIELDS} FROM candles WHERE {where}")
        else:
            parts.append(
                f"SELECT {_FIELDS} FROM candle_rollups WHERE {where} AND timeframe = ${n + 3}"
            )
            args.append(timeframe.value)
    return " UNION ALL ".join(parts)


def aggregate_sql(timeframe: Timeframe, segments: Sequence[Segment], args: list[object]) -> str:
    """The `timeframe` buckets aggregated by PostgreSQL from the segments' candles (each a
    whole number of them per bucket), columns open_time and VALUE_COLUMNS."""
    return _AGGREGATE.replace("$BUCKET", bucket_sql(timeframe)).replace(
        "$SOURCE", _segments_sql(segments, args)
    )


async def aggregate(
    db: Executor, symbol: str, timeframe: Timeframe, segments: Sequence[Segment]
) -> list[Candle]:
    """The `timeframe` candles built from the segments' stored candles, oldest first."""
    if not segments:
        return []
    args: list[object] = [symbol]
    sql = aggregate_sql(timeframe, segments, args)
    rows = await db.fetch(f"{sql} ORDER BY open_time", *args)
    return [_candle(row, timeframe) for row in rows]


async def roll_up(
    db: Executor,
    symbol: str,
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
    args: list[object] = [symbol]
    sql = aggregate_sql(timeframe, [(source, lo, hi)], args)
    args.append(timeframe.value)
    label = f"${len(args)}"
    insert = (
        f"INSERT INTO candle_rollups (symbol, timeframe, {_FIELDS}) "
        f"SELECT $1, {label}, {_FIELDS} FROM agg"
    )
    if not replace:
        status = await db.execute(f"WITH agg AS ({sql}) {insert}", *args)
        return int(status.rsplit(" ", 1)[1])
    count = await db.fetchval(
        f"""
        WITH agg AS MATERIALIZED ({sql}),
        stored AS (
            {insert}
            ON CONFLICT (symbol, timeframe, open_time) DO UPDATE SET {assignments(VALUE_COLUMNS)}
        ),
        dropped AS (
            DELETE FROM candle_rollups r WHERE r.symbol = $1 AND r.timeframe = {label}
                AND r.open_time >= $2 AND r.open_time < $3
                AND NOT EXISTS (SELECT 1 FROM agg WHERE agg.open_time = r.open_time)
        )
        SELECT count(*) FROM agg
        """,
        *args,
    )
    return int(count)


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else to_datetime(ms)
