"""Order books as the services pass them around: the top levels of each side, best price
first, stamped with the time the collector received them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Book", "Level"]

Level = tuple[Decimal, Decimal]
"""One price level: (price, quantity)."""


@dataclass(frozen=True, slots=True)
class Book:
    """Top of an order book, best price first."""

    symbol: str
    received_ms: int
    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
