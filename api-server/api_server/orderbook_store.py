"""SQL for `orderbook_data`: the newest stored snapshot of a market, cut to `levels`, in the
shape the live feed carries (`market_messages.book_message`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from linkora_core.books import Book, Level
from linkora_core.db import Executor
from linkora_core.epoch import to_ms
from linkora_core.market_messages import book_message
from linkora_core.markets import Market
from linkora_core.rollup_sql import key


async def latest_book(db: Executor, market: Market, levels: int) -> dict[str, Any] | None:
    row = await db.fetchrow(
        "SELECT captured_at, last_update_id, bid_prices[1:$3], bid_quantities[1:$3], "
        "ask_prices[1:$3], ask_quantities[1:$3] FROM orderbook_data "
        "WHERE venue = $1 AND symbol = $2 ORDER BY captured_at DESC LIMIT 1",
        *key(market),
        levels,
    )
    if row is None:
        return None
    book = Book(market, to_ms(row[0]), row[1], _levels(row[2], row[3]), _levels(row[4], row[5]))
    return book_message(book)


def _levels(prices: list[Decimal] | None, quantities: list[Decimal] | None) -> tuple[Level, ...]:
    return tuple(zip(prices or [], quantities or [], strict=True))
