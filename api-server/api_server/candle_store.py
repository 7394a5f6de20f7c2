"""SQL for the candle tables: 1m minutes in `candles`, closed larger buckets in
`candle_rollups`, of one market (venue and symbol, the first two arguments of every query).
Every query is parameterised; times cross the boundary as epoch ms."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from linkora_core import candle_columns
from linkora_core.candles import Candle
from linkora_core.db import Executor
from linkora_core.epoch import to_ms
from linkora_core.markets import Market, Venue, venue_of_key
from linkora_core.rollup_sql import FIELDS, Segment, aggregate_sql, at, key
from linkora_core.timeframes import Timeframe


def _candle(row: Sequence[Any], timeframe: Timeframe) -> Candle:
    return candle_columns.candle(to_ms(row[0]), row[1:], timeframe)


def _span(
    market: Market,
    timeframe: Timeframe,
    lo: int | None,
    hi: int | None,
    limit: int | None = None,
    *,
    newest_first: bool = False,
) -> tuple[str, list[object]]:
    """`FROM ... ORDER BY ... [LIMIT ...]` of the stored candles with lo <= open_time < hi
    (None = unbounded) and its arguments: 1m lives in candles, the rest in rollups."""
    table = "candles WHERE venue = $1 AND symbol = $2"
    args: list[object] = [*key(market), at(lo), at(hi)]
    if timeframe is not Timeframe.MINUTE_1:
        table = "candle_rollups WHERE venue = $1 AND symbol = $2 AND timeframe = $5"
        args.append(timeframe.value)
    sql = (
        f"FROM {table} AND open_time >= coalesce($3::timestamptz, '-infinity') "
        f"AND open_time < coalesce($4::timestamptz, 'infinity') "
        f"ORDER BY open_time {'DESC' if newest_first else 'ASC'}"
    )
    if limit is not None:
        args.append(limit)
        sql += f" LIMIT ${len(args)}"
    return sql, args


async def read_range(
    db: Executor, market: Market, timeframe: Timeframe, lo: int | None, hi: int | None
) -> list[Candle]:
    """Stored candles with lo <= open_time < hi (None = unbounded), oldest first."""
    span, args = _span(market, timeframe, lo, hi)
    rows = await db.fetch(f"SELECT {FIELDS} {span}", *args)
    return [_candle(row, timeframe) for row in rows]


async def read_segments(db: Executor, market: Market, segments: Sequence[Segment]) -> list[Candle]:
    """Candles of several (timeframe, lo, hi) ranges in one round trip, in no set order."""
    parts: list[str] = []
    args: list[object] = [*key(market)]
    for timeframe, lo, hi in segments:
        n = len(args)
        bounds = (
            f"open_time >= coalesce(${n + 1}::timestamptz, '-infinity') "
            f"AND open_time < coalesce(${n + 2}::timestamptz, 'infinity')"
        )
        if timeframe is Timeframe.MINUTE_1:
            parts.append(
                f"SELECT '1' AS tf, {FIELDS} FROM candles WHERE venue = $1 "
                f"AND symbol = $2 AND {bounds}"
            )
            args += [at(lo), at(hi)]
        else:
            parts.append(
                f"SELECT timeframe, {FIELDS} FROM candle_rollups WHERE venue = $1 "
                f"AND symbol = $2 "
                f"AND timeframe = ${n + 3} AND {bounds}"
            )
            args += [at(lo), at(hi), timeframe.value]
    if not parts:
        return []
    rows = await db.fetch(" UNION ALL ".join(parts), *args)
    return [_candle(row[1:], Timeframe(row[0])) for row in rows]


async def read_page(
    db: Executor,
    market: Market,
    timeframe: Timeframe,
    lo: int | None,
    hi: int | None,
    limit: int,
    *,
    newest_first: bool,
) -> list[Candle]:
    """At most `limit` stored candles in [lo, hi), from the newest or the oldest end."""
    span, args = _span(market, timeframe, lo, hi, limit, newest_first=newest_first)
    rows = await db.fetch(f"SELECT {FIELDS} {span}", *args)
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
# (trim_scale; numeric text never uses an exponent), times as the wire's ISO strings; a
# trade count or taker volumes the exchange does not publish (NULL) as null.
_REST_OBJECT = """format(
    '{"timestamp":%s,"open_time":"%s","close_time":"%s","open_price":"%s","high_price":"%s",'
    '"low_price":"%s","close_price":"%s","volume":"%s","quote_volume":"%s","trades":%s,'
    '"taker_buy_volume":%s,"taker_buy_quote_volume":%s}',
    (extract(epoch FROM open_time) * 1000)::bigint,
    to_char(open_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
    to_char((open_time AT TIME ZONE 'UTC') + $WIDTH::text::interval - interval '1 millisecond',
            'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
    trim_scale(open_price), trim_scale(high_price), trim_scale(low_price),
    trim_scale(close_price), trim_scale(volume), trim_scale(quote_volume),
    coalesce(trades::text, 'null'),
    coalesce('"' || trim_scale(taker_buy_volume) || '"', 'null'),
    coalesce('"' || trim_scale(taker_buy_quote_volume) || '"', 'null'))"""


async def render_page(
    db: Executor,
    market: Market,
    timeframe: Timeframe,
    lo: int | None,
    hi: int | None,
    limit: int,
    *,
    newest_first: bool,
) -> tuple[str, int, int | None, int | None]:
    """Like `read_page`, as REST JSON objects joined by commas. Returns the text, how many,
    the open time of the last one in page order and the newest open time."""
    span, args = _span(market, timeframe, lo, hi, limit, newest_first=newest_first)
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


async def symbols(db: Executor, venue: Venue) -> list[str]:
    """Every symbol of the venue with candles (a loose index scan: fast on millions of rows)
    or collector state, sorted."""
    rows = await db.fetch(
        """
        WITH RECURSIVE s(symbol) AS (
            (SELECT symbol FROM candles WHERE venue = $1 ORDER BY symbol LIMIT 1)
            UNION ALL
            SELECT (SELECT c.symbol FROM candles c WHERE c.venue = $1 AND c.symbol > s.symbol
                    ORDER BY c.symbol LIMIT 1)
            FROM s WHERE s.symbol IS NOT NULL
        )
        SELECT symbol FROM s WHERE symbol IS NOT NULL
        UNION SELECT symbol FROM collector_state WHERE venue = $1
        ORDER BY symbol
        """,
        venue.key,
    )
    return [row[0] for row in rows]


async def markets(db: Executor) -> list[Market]:
    """Every market of a known venue with candles or collector state (a loose index scan
    over venues and symbols), sorted."""
    rows = await db.fetch(
        """
        WITH RECURSIVE m(venue, symbol) AS (
            (SELECT venue, symbol FROM candles ORDER BY venue, symbol LIMIT 1)
            UNION ALL
            SELECT n.venue, n.symbol FROM m, LATERAL (
                SELECT c.venue, c.symbol FROM candles c
                WHERE (c.venue, c.symbol) > (m.venue, m.symbol)
                ORDER BY c.venue, c.symbol LIMIT 1
            ) AS n
        )
        SELECT venue, symbol FROM m
        UNION SELECT venue, symbol FROM collector_state
        """
    )
    found: list[Market] = []
    for venue_key, symbol in rows:
        with contextlib.suppress(ValueError):  # a venue this release does not know
            found.append(Market(venue_of_key(venue_key), symbol))
    return sorted(found)


async def aggregate(
    db: Executor, market: Market, timeframe: Timeframe, segments: Sequence[Segment]
) -> list[Candle]:
    """The `timeframe` candles built from the segments' stored candles, oldest first."""
    if not segments:
        return []
    args: list[object] = [*key(market)]
    sql = aggregate_sql(timeframe, segments, args)
    rows = await db.fetch(f"{sql} ORDER BY open_time", *args)
    return [_candle(row, timeframe) for row in rows]
