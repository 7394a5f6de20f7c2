"""What `/admin` reads beside linkora_core.control_store: the collector's state of every
market, and the purge of one market's stored data."""

from __future__ import annotations

from typing import Final

import asyncpg

from linkora_core.db import Executor
from linkora_core.markets import Market, venue_of_key
from linkora_core.rollup_passes import lock_market

# Every table holding a market's data, keyed by (venue, symbol); a purge empties each.
PURGED_TABLES: Final = (
    "candles",
    "candle_rollups",
    "candle_changes",
    "candle_gaps",
    "orderbook_data",
    "collector_state",
)
# A purge of a long history may run for minutes: past the API's statement timeout.
PURGE_TIMEOUT: Final = 900.0


async def collector_states(executor: Executor) -> dict[Market, asyncpg.Record]:
    """The collector's state row of every market it ever wrote one for."""
    rows = await executor.fetch(
        """SELECT venue, symbol, phase, last_closed_minute, backfill_done, backfill_total,
                  backfill_rate, backfill_eta, last_error, updated_at
           FROM collector_state"""
    )
    return {Market(venue_of_key(r["venue"]), r["symbol"]): r for r in rows}


async def is_collected(connection: asyncpg.Connection, market: Market) -> bool:
    """Whether `market` is configured for collection; locks its row till the transaction
    ends, so it is not added again while its data is being purged."""
    removed = await connection.fetchrow(
        """SELECT removed_at FROM control_markets WHERE venue = $1 AND symbol = $2
           FOR UPDATE""",
        market.venue.key,
        market.symbol,
    )
    return removed is not None and removed["removed_at"] is None


async def still_written(connection: asyncpg.Connection, market: Market) -> bool:
    """Whether the collector may still be writing `market` although it is no longer
    collected: it was configured, and the collector has not yet recorded its state `removed`
    (its batches, buffers and streams stopped). A market never configured has no collector
    writing it; one with no state row has nothing the collector would write back."""
    row = await connection.fetchrow(
        """SELECT s.phase FROM control_markets m
           JOIN collector_state s USING (venue, symbol)
           WHERE m.venue = $1 AND m.symbol = $2""",
        market.venue.key,
        market.symbol,
    )
    return row is not None and row["phase"] != "removed"


async def purge(connection: asyncpg.Connection, market: Market) -> dict[str, int]:
    """Delete `market`'s rows from every table of PURGED_TABLES; the rows deleted per table.
    Call inside a transaction."""
    await connection.execute("SET LOCAL statement_timeout = 0")
    # The rollup writers (collector backfill, the api-server's maintainer) hold this lock.
    await lock_market(connection, market)
    deleted = {}
    for table in PURGED_TABLES:  # constants: no name comes from the request
        status = await connection.execute(
            f"DELETE FROM {table} WHERE venue = $1 AND symbol = $2",
            market.venue.key,
            market.symbol,
            timeout=PURGE_TIMEOUT,
        )
        deleted[table] = int(status.rsplit(" ", 1)[1])
    return deleted
