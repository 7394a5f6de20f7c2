"""Small types shared by the collector's modules."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from linkora_core.candles import Candle
from linkora_core.db import DATABASE_DOWN, Executor

__all__ = ["DB_DOWN", "Book", "Executor", "LiveCandle"]

# The database is unreachable or just restarted (connections terminated by the server).
DB_DOWN = DATABASE_DOWN


@dataclass(frozen=True, slots=True)
class LiveCandle:
    """A 1m candle as last seen on the stream or by polling, and whether it has closed."""

    symbol: str
    candle: Candle
    closed: bool


@dataclass(frozen=True, slots=True)
class Book:
    """Top of an order book, best price first, stamped with the time we received it."""

    symbol: str
    received_ms: int
    last_update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
