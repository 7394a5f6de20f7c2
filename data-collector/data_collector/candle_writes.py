"""The `candles` table: bulk COPY + upsert of raw kline pages, typed upserts of live candles.

Upserts change a row only when a value differs (so a second identical run writes nothing)
and never turn a closed minute back into an open one. A bulk write (backfill, audit, gap fill)
stores, in the same transaction, the rollups of the closed buckets it completed or changed, so
a history is charted in every timeframe as soon as it is written; a live write (or a bulk one
asked not to) records instead the range of minutes it touched in `candle_changes` (one row per
market per write), from which the api-server's rollup maintainer re-aggregates. Every row
carries its market's venue and symbol (linkora_core.markets).

What a write announces to other applications (closed candles, backfill chunks) goes into
the outbox in the same transaction (announcements.py), so it commits, rolls back and is
retried with the rows; its deterministic id stores a retried message once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from data_collector import announcements
from linkora_core import market_announcements, outbox
from linkora_core.candle_columns import VALUE_COLUMNS, VALUES, assignments, qualified, values
from linkora_core.candles import LiveCandle
from linkora_core.db import Executor
from linkora_core.epoch import MINUTE_MS, to_ms
from linkora_core.markets import Market, venue_of_key
from linkora_core.rollup_passes import lock_market, roll_market
from linkora_core.rollup_sql import key
from linkora_core.timeframes import Timeframe

_STAGING = "candles_staging"
_CREATE_STAGING = f"""
CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (
    venue text, symbol text, open_ms bigint, open text, high text, low text, close text,
    volume text, close_ms bigint, quote_volume text, trades bigint, taker_base text,
    taker_quote text, is_closed boolean
) ON COMMIT DELETE ROWS
"""
_STAGING_COLUMNS = (
    "venue", "symbol", "open_ms", "open", "high", "low", "close", "volume", "close_ms",
    "quote_volume", "trades", "taker_base", "taker_quote", "is_closed",
)  # fmt: skip

_KEPT = (*VALUE_COLUMNS, "is_closed")  # what an upsert replaces, when any of it differs
_ON_CONFLICT = f"""
ON CONFLICT (venue, symbol, open_time) DO UPDATE SET {assignments(_KEPT)}, updated_at = now()
WHERE (NOT candles.is_closed OR EXCLUDED.is_closed)
  AND ({qualified("candles", _KEPT)}) IS DISTINCT FROM ({qualified("EXCLUDED", _KEPT)})
"""
_COLUMNS = f"(venue, symbol, open_time, {VALUES}, is_closed)"

# Numeric text is cast by PostgreSQL, which rejects anything that is not a number.
_INSERT_STAGED = f"""
INSERT INTO candles {_COLUMNS}
SELECT venue, symbol, timestamptz 'epoch' + open_ms * interval '1 millisecond',
       open::numeric, high::numeric, low::numeric, close::numeric, volume::numeric,
       quote_volume::numeric, trades, taker_base::numeric, taker_quote::numeric, is_closed
FROM {_STAGING}
"""
_UPSERT_STAGED = _INSERT_STAGED + _ON_CONFLICT

_NEWEST = """
SELECT m.venue, m.symbol,
       (SELECT (extract(epoch FROM max(open_time)) * 1000)::bigint
        FROM candles WHERE venue = m.venue AND symbol = m.symbol) AS newest_ms
FROM unnest($1::text[], $2::text[]) AS m(venue, symbol)
"""

_UPSERT_ONE = f"""
INSERT INTO candles {_COLUMNS}
VALUES ($1, $2, timestamptz 'epoch' + $3::bigint * interval '1 millisecond',
        $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
{_ON_CONFLICT}
"""

# One row per market: the first and last open time (epoch ms) the write touched.
_LOG_CHANGES = """
INSERT INTO candle_changes (venue, symbol, first_open_time, last_open_time)
SELECT venue, symbol, timestamptz 'epoch' + first_ms * interval '1 millisecond',
       timestamptz 'epoch' + last_ms * interval '1 millisecond'
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
    AS t(venue, symbol, first_ms, last_ms)
"""

StagedRow = tuple[Any, ...]  # venue key, symbol, the 11 kline fields, closed
Spans = dict[tuple[str, str], tuple[int, int]]  # (venue key, symbol) -> first, last open ms


def _widen(spans: Spans, market: tuple[str, str], open_ms: int) -> None:
    first, last = spans.get(market, (open_ms, open_ms))
    spans[market] = (min(first, open_ms), max(last, open_ms))


async def _log_changes(connection: asyncpg.Connection, spans: Spans) -> None:
    """Record the written ranges; call inside the transaction that wrote the minutes."""
    markets = sorted(spans)
    await connection.execute(
        _LOG_CHANGES,
        [v for v, _ in markets],
        [s for _, s in markets],
        [spans[m][0] for m in markets],
        [spans[m][1] for m in markets],
    )


def staged_rows(market: Market, page: Sequence[Sequence[Any]], now_ms: int) -> list[StagedRow]:
    """Checked kline rows -> staging records; a row is closed when its close time has passed."""
    venue, symbol = key(market)
    return [(venue, symbol, *row[:11], row[6] < now_ms) for row in page]


def row_market(row: StagedRow) -> Market:
    """The market of a staging record."""
    return Market(venue_of_key(row[0]), row[1])


def describe_row(row: StagedRow) -> str:
    """A staging record as named in logs: `BTCUSDT candle at 1700000000000`."""
    return f"{row_market(row)} candle at {row[2]}"


async def copy_upsert(
    connection: asyncpg.Connection,
    rows: Sequence[StagedRow],
    *,
    rollups: bool = True,
    historical: bool = False,
) -> int:
    """COPY rows into the session's staging table and upsert them; the rows changed.
    `rollups`: store the rollups they complete or change in the same transaction (else log
    the change for the api-server's maintainer). `historical`: when rows changed, announce
    the chunk (per market its first and last open time and its count) in the outbox, in the
    same transaction and in one statement; a retried chunk has the same id, stored once.

    Runs in its own transaction (which also empties the staging table on commit). Rows all
    newer than anything stored (the usual backfill page) take a plain INSERT, which costs
    PostgreSQL markedly less than ON CONFLICT; if another writer got there first, the
    unique violation sends the batch through the upsert instead.
    """
    spans: Spans = {}
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        _widen(spans, (row[0], row[1]), row[2])
        counts[row[0], row[1]] = counts.get((row[0], row[1]), 0) + 1
    oldest = {market: first for market, (first, _) in spans.items()}
    async with connection.transaction():
        # Losing the last commits in a crash is harmless: the backfill resumes from what is
        # stored and fetches them again.
        await connection.execute("SET LOCAL synchronous_commit TO off")
        await connection.execute(_CREATE_STAGING)
        await connection.copy_records_to_table(_STAGING, records=rows, columns=_STAGING_COLUMNS)
        newest = await connection.fetch(_NEWEST, [v for v, _ in oldest], [s for _, s in oldest])
        appending = all(
            r["newest_ms"] is None or r["newest_ms"] < oldest[r["venue"], r["symbol"]]
            for r in newest
        )
        status: str | None = None
        if appending:
            try:
                async with connection.transaction():
                    status = await connection.execute(_INSERT_STAGED)
            except asyncpg.UniqueViolationError:
                status = None
        if status is None:
            status = await connection.execute(_UPSERT_STAGED)
        changed = int(status.rsplit(" ", 1)[-1])
        if changed and rollups:
            await _roll_up(connection, spans)
        elif changed:
            await _log_changes(connection, spans)
        if changed and historical:
            await outbox.add(connection, _chunk_messages(spans, counts))
    return changed


def _chunk_messages(spans: Spans, counts: dict[tuple[str, str], int]) -> list[outbox.Message]:
    return [
        market_announcements.historical_message(
            Market(venue_of_key(venue), symbol), first, last, counts[venue, symbol]
        )
        for (venue, symbol), (first, last) in sorted(spans.items())
    ]


async def _roll_up(connection: asyncpg.Connection, spans: Spans) -> None:
    """Store the rollups of the written ranges (each market under its rollup lock, taken in
    key order so two writers never wait on each other); call inside the writing transaction."""
    for venue, symbol in sorted(spans):
        first, last = spans[venue, symbol]
        market = Market(venue_of_key(venue), symbol)
        await lock_market(connection, market)
        await roll_market(connection, market, [(first, last + MINUTE_MS)])


async def upsert_live(
    executor: Executor,
    candles: Iterable[LiveCandle],
    klines: Sequence[Timeframe] = (),
    messages: Sequence[outbox.Message] = (),
) -> None:
    """Upsert candles from the stream or REST polling (a few per second), with their change
    log row, in one transaction; with it the outbox messages: for each of `klines`, the
    closed candles the closed minutes complete (announcements.py), and `messages`."""
    if isinstance(executor, asyncpg.Pool):
        async with executor.acquire() as connection:
            await upsert_live(connection, candles, klines, messages)
            return
    candles = list(candles)
    # Only closed minutes are logged: an open minute is the newest one, in no stored rollup,
    # and the write that closes it is logged. Logging every update of the open minute would
    # add rows several times a second that no rollup needs.
    spans: Spans = {}
    for c in candles:
        if c.closed:
            _widen(spans, key(c.market), c.candle.open_time_ms)
    args = [(*key(c.market), c.candle.open_time_ms, *values(c.candle), c.closed) for c in candles]
    if not args:
        return
    closed: dict[Market, list[int]] = {}
    for c in candles:
        if c.closed:
            closed.setdefault(c.market, []).append(c.candle.open_time_ms)
    larger = [tf for tf in klines if tf is not Timeframe.MINUTE_1]
    async with executor.transaction():
        before = await announcements.newest_closed(executor, list(closed)) if larger else {}
        await executor.executemany(_UPSERT_ONE, args)
        if spans:
            await _log_changes(executor, spans)
        out = list(messages)
        if Timeframe.MINUTE_1 in klines:
            out += [
                market_announcements.candle_message(c.market, c.candle) for c in candles if c.closed
            ]
        for market, opens in closed.items():
            ranges = announcements.closing_ranges(larger, before.get(market), opens)
            out += await announcements.closed_buckets(executor, market, ranges)
        await outbox.add(executor, out)


async def last_closed_ms(executor: Executor, market: Market) -> int | None:
    """Open time of the market's newest stored closed minute."""
    value: datetime | None = await executor.fetchval(
        "SELECT max(open_time) FROM candles WHERE venue = $1 AND symbol = $2 AND is_closed",
        *key(market),
    )
    return None if value is None else to_ms(value)


async def first_open_ms(executor: Executor, market: Market, from_ms: int) -> int | None:
    """Open time of the market's oldest stored minute at or after `from_ms`."""
    value: datetime | None = await executor.fetchval(
        """SELECT min(open_time) FROM candles WHERE venue = $1 AND symbol = $2
           AND open_time >= timestamptz 'epoch' + $3::bigint * interval '1 millisecond'""",
        *key(market), from_ms,
    )  # fmt: skip
    return None if value is None else to_ms(value)


async def stored_holes(executor: Executor, market: Market) -> list[tuple[int, int]]:
    """Holes [start, end) between stored minutes that are not already known gaps."""
    rows = await executor.fetch(
        """SELECT (extract(epoch FROM h.start_at) * 1000)::bigint AS start_ms,
                  (extract(epoch FROM h.end_at) * 1000)::bigint AS end_ms
           FROM (SELECT open_time + interval '1 minute' AS start_at,
                        lead(open_time) OVER (ORDER BY open_time) AS end_at
                 FROM candles WHERE venue = $1 AND symbol = $2) AS h
           WHERE h.end_at > h.start_at
             AND NOT EXISTS (SELECT 1 FROM candle_gaps g
                             WHERE g.venue = $1 AND g.symbol = $2 AND g.gap_start <= h.start_at
                               AND g.gap_end >= h.end_at)
           ORDER BY h.start_at""",
        *key(market),
    )
    return [(int(row["start_ms"]), int(row["end_ms"])) for row in rows]
