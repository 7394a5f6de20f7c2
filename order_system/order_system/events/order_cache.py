"""The rows of the orders the processor has written or is writing, as they stand after the last
batch it prepared. The next range's transitions start from them while the previous range is
still being written; an order not held here is read from the table once that write is done."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice

from order_system.events.transitions import OrderRow

# About 1 KB a row: tens of MB at most. A catch-up touches most orders again within a few ranges.
DEFAULT_LIMIT = 50_000


class OrderCache:
    """Bounded, least recently prepared dropped first. Whoever holds it clears it whenever a
    batch it reflects may not have been committed: a failed write, a rollback."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = max(1, limit)
        self._rows: dict[int, OrderRow] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._rows

    def rows(self, ids: Iterable[int]) -> dict[int, OrderRow]:
        """The rows held for these ids (ids not held are left out)."""
        held = self._rows
        return {order_id: held[order_id] for order_id in ids if order_id in held}

    def update(self, rows: Mapping[int, OrderRow]) -> None:
        held = self._rows
        for order_id, row in rows.items():
            held.pop(order_id, None)  # re-inserted last: the most recently prepared
            held[order_id] = row
        excess = len(held) - self.limit
        if excess > 0:
            for order_id in list(islice(held, excess)):
                del held[order_id]

    def clear(self) -> None:
        self._rows.clear()
