"""The `orderbook_data` table: each market's snapshots stored at a fixed rate, old ones (of
every market) removed."""

from __future__ import annotations

from collections.abc import Iterable

from linkora_core.books import Book
from linkora_core.db import Executor
from linkora_core.epoch import to_datetime
from linkora_core.rollup_sql import key


async def insert_books(executor: Executor, books: Iterable[Book]) -> None:
    args = [
        (
            *key(b.market),
            to_datetime(b.received_ms),
            b.last_update_id,
            [p for p, _ in b.bids],
            [q for _, q in b.bids],
            [p for p, _ in b.asks],
            [q for _, q in b.asks],
        )
        for b in books
    ]
    if args:
        await executor.executemany(
            """INSERT INTO orderbook_data (venue, symbol, captured_at, last_update_id,
                   bid_prices, bid_quantities, ask_prices, ask_quantities)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (venue, symbol, captured_at) DO NOTHING""",
            args,
        )


async def delete_older_than(executor: Executor, seconds: float) -> int:
    status: str = await executor.execute(
        "DELETE FROM orderbook_data WHERE captured_at < now() - make_interval(secs => $1)",
        seconds,
    )
    return int(status.rsplit(" ", 1)[-1])
