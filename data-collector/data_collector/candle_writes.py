"""The `candles` table: bulk COPY + upsert of raw kline pages, typed upserts of live candles.

Upserts change a row only when a value differs (so a second identical run writes nothing)
and never turn a closed minute back into an open one. A bulk write (backfill, audit, gap fill)
stores, in the same transaction, the rollups of the closed buckets it completed or changed, so
a history is charted in every timeframe as soon as it is written; a live write (or a bulk one
asked not to) records instead the range of minutes it touched in `candle_changes` (one row per
symbol per write), from which the api-server's rollup maintainer re-aggregates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from linkora_core.candle_columns import VALUE_COLUMNS, VALUES, assignments, qualified, values
from linkora_core.candles import LiveCandle
from linkora_core.db import Executor
from linkora_core.epoch import MINUTE_MS, to_ms
from linkora_core.rollup_passes import lock_symbol, roll_symbol

_STAGING = "candles_staging"
_CREATE_STAGING = f"""
CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (
    symbol text, open_ms bigint, open text, high text, low text, close text, volume text,
    close_ms bigint, quote_volume text, trades bigint, taker_base text, taker_quote text,
    is_closed boolean
) ON COMMIT DELETE ROWS
"""
_STAGING_COLUMNS = (
    "symbol", "open_ms", "open", "high", "low", "close", "volume", "close_ms",
    "quote_volume", "trades", "taker_base", "taker_quote", "is_closed",
)  # fmt: skip

_KEPT = (*VALUE_COLUMNS, "is_closed")  # what an upsert replaces, when any of it differs
_ON_CONFLICT = f"""
ON CONFLICT (symbol, open_time) DO UPDATE SET {assignments(_KEPT)}, updated_at = now()
WHERE (NOT candles.is_closed OR EXCLUDED.is_closed)
  AND ({qualified("candles", _KEPT)}) IS DISTINCT FROM ({qualified("EXCLUDED", _KEPT)})
"""
_COLUMNS = f"(symbol, open_time, {VALUES}, is_closed)"

# Numeric text is cast by PostgreSQL, which rejects anything that is not a number.
_INSERT_STAGED = f"""
INSERT INTO candles {_COLUMNS}
SELECT symbol, timestamptz 'epoch' + open_ms * interval '1 millisecond',
       open::numeric, high::numeric, low::numeric, close::numeric, volume::numeric,
       quote_volume::numeric, trades, taker_base::numeric, taker_quote::numeric, is_closed
FROM {_STAGING}
"""
_UPSERT_STAGED = _INSERT_STAGED + _ON_CONFLICT

_NEWEST = """
SELECT s.symbol, (SELECT (extract(epoch FROM max(open_time)) * 1000)::bigint
                  FROM candles WHERE symbol = s.symbol) AS newest_ms
FROM unnest($1::text[]) AS s(symbol)
"""

_UPSERT_ONE = f"""
INSERT INTO candles {_COLUMNS}
VALUES ($1, timestamptz 'epoch' + $2::bigint * interval '1 millisecond',
        $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
{_ON_CONFLICT}
"""

# One row per symbol: the first and last open time (epoch ms) the write touched.
_LOG_CHANGES = """
INSERT INTO candle_changes (symbol, first_open_time, last_open_time)
SELECT symbol, timestamptz 'epoch' + first_ms * interval '1 millisecond',
       timestamptz 'epoch' + last_ms * interval '1 millisecond'
FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t(symbol, first_ms, last_ms)
"""

StagedRow = tuple[Any, ...]
Spans = dict[str, tuple[int, int]]


def _widen(spans: Spans, symbol: str, open_ms: int) -> None:
    first, last = spans.get(symbol, (open_ms, open_ms))
    spans[symbol] = (min(first, open_ms), max(last, open_ms))


async def _log_changes(connection: asyncpg.Connection, spans: Spans) -> None:
    """Record the written ranges; call inside the transaction that wrote the minutes."""
    symbols = sorted(spans)
    await connection.execute(
        _LOG_CHANGES, symbols, [spans[s][0] for s in symbols], [spans[s][1] for s in symbols]
    )


def staged_rows(symbol: str, page: Sequence[Sequence[Any]], now_ms: int) -> list[StagedRow]:
    """Checked kline rows -> staging records; a row is closed when its close time has passed."""
    return [(symbol, *row[:11], row[6] < now_ms) for row in page]


async def copy_upsert(
    connection: asyncpg.Connection, rows: Sequence[StagedRow], *, rollups: bool = True
) -> int:
    """COPY rows into the session's staging table and upsert them; the rows changed.
    `rollups`: store the rollups they complete or change in the same transaction (else log
    the change for the api-server's maintainer).

    Runs in its own transaction (which also empties the staging table on commit). Rows all
    newer than anything stored (the usual backfill page) take a plain INSERT, which costs
    PostgreSQL markedly less than ON CONFLICT; if another writer got there first, the
    unique violation sends the batch through the upsert instead.
    """
    spans: Spans = {}
    for row in rows:
        _widen(spans, row[0], row[1])
    oldest = {symbol: first for symbol, (first, _) in spans.items()}
    async with connection.transaction():
        # Losing the last commits in a crash is harmless: the backfill resumes from what is
        # stored and fetches them again.
        await connection.execute("SET LOCAL synchronous_commit TO off")
        await connection.execute(_CREATE_STAGING)
        await connection.copy_records_to_table(_STAGING, records=rows, columns=_STAGING_COLUMNS)
        newest = await connection.fetch(_NEWEST, list(oldest))
        appending = all(
            r["newest_ms"] is None or r["newest_ms"] < oldest[r["symbol"]] for r in newest
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
    return changed


async def _roll_up(connection: asyncpg.Connection, spans: Spans) -> None:
    """Store the rollups of the written ranges (each symbol under its rollup lock, taken in
    name order so two writers never wait on each other); call inside the writing transaction."""
    for symbol in sorted(spans):
        first, last = spans[symbol]
        await lock_symbol(connection, symbol)
        await roll_symbol(connection, symbol, [(first, last + MINUTE_MS)])


async def upsert_live(executor: Executor, candles: Iterable[LiveCandle]) -> None:
    """Upsert candles from the stream or REST polling (a few per second), with their change
    log row, in one transaction."""
    if isinstance(executor, asyncpg.Pool):
        async with executor.acquire() as connection:
            await upsert_live(connection, candles)
            return
    candles = list(candles)
    # Only closed minutes are logged: an open minute is the newest one, in no stored rollup,
    # and the write that closes it is logged. Logging every update of the open minute would
    # add rows several times a second that no rollup needs.
    spans: Spans = {}
    for c in candles:
        if c.closed:
            _widen(spans, c.symbol, c.candle.open_time_ms)
    args = [(c.symbol, c.candle.open_time_ms, *values(c.candle), c.closed) for c in candles]
    if args:
        async with executor.transaction():
            await executor.executemany(_UPSERT_ONE, args)
            if spans:
                await _log_changes(executor, spans)


async def last_closed_ms(executor: Executor, symbol: str) -> int | None:
    """Open time of the newest stored closed minute."""
    value: datetime | None = await executor.fetchval(
        "SELECT max(open_time) FROM candles WHERE symbol = $1 AND is_closed", symbol
    )
    return None if value is None else to_ms(value)


async def first_open_ms(executor: Executor, symbol: str, from_ms: int) -> int | None:
    """Open time of the oldest stored minute at or after `from_ms`."""
    value: datetime | None = await executor.fetchval(
        """SELECT min(open_time) FROM candles WHERE symbol = $1
           AND open_time >= timestamptz 'epoch' + $2::bigint * interval '1 millisecond'""",
        symbol, from_ms,
    )  # fmt: skip
    return None if value is None else to_ms(value)


async def stored_holes(executor: Executor, symbol: str) -> list[tuple[int, int]]:
    """Holes [start, end) between stored minutes that are not already known gaps."""
    rows = await executor.fetch(
        """SELECT (extract(epoch FROM h.start_at) * 1000)::bigint AS start_ms,
                  (extract(epoch FROM h.end_at) * 1000)::bigint AS end_ms
           FROM (SELECT open_time + interval '1 minute' AS start_at,
                        lead(open_time) OVER (ORDER BY open_time) AS end_at
                 FROM candles WHERE symbol = $1) AS h
           WHERE h.end_at > h.start_at
             AND NOT EXISTS (SELECT 1 FROM candle_gaps g
                             WHERE g.symbol = $1 AND g.gap_start <= h.start_at
                               AND g.gap_end >= h.end_at)
           ORDER BY h.start_at""",
        symbol,
    )
    return [(int(row["start_ms"]), int(row["end_ms"])) for row in rows]
