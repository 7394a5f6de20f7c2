"""Order books as the services pass them around: the top levels of each side, best price
first, stamped with the time the collector received them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from linkora_core.markets import Market

__all__ = ["Book", "Level"]

Level = tuple[Decimal, Decimal]
"""One price level: (price, quantity)."""


@dataclass(frozen=True, slots=True)
class Book:
    """Top of a market's order book, best price first."""

    market: Market
    received_ms: int
    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @property
    def symbol(self) -> str:
        return self.market.symbol
