"""SQL for `orderbook_data`: the newest stored snapshot of a symbol, cut to `levels`."""

from __future__ import annotations

from typing import Any

from linkora_core.db import Executor
from linkora_core.decimals import to_plain
from linkora_core.epoch import to_ms


async def latest_book(db: Executor, symbol: str, levels: int) -> dict[str, Any] | None:
    row = await db.fetchrow(
        "SELECT captured_at, last_update_id, bid_prices[1:$2], bid_quantities[1:$2], "
        "ask_prices[1:$2], ask_quantities[1:$2] FROM orderbook_data WHERE symbol = $1 "
        "ORDER BY captured_at DESC LIMIT 1",
        symbol,
        levels,
    )
    if row is None:
        return None
    return {
        "symbol": symbol,
        "timestamp": to_ms(row[0]),
        "last_update_id": row[1],
        "bids": _levels(row[2], row[3]),
        "asks": _levels(row[4], row[5]),
    }


def _levels(prices: list[Any] | None, quantities: list[Any] | None) -> list[dict[str, str]]:
    return [
        {"price": to_plain(p), "quantity": to_plain(q)}
        for p, q in zip(prices or [], quantities or [], strict=True)
    ]
