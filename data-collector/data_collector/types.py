"""Small types shared by the collector's modules (the market data itself is core's: the
services that read it use the same types)."""

from __future__ import annotations

from linkora_core.books import Book
from linkora_core.candles import LiveCandle
from linkora_core.db import DATABASE_DOWN, Executor

__all__ = ["DB_DOWN", "Book", "Executor", "LiveCandle"]

# The database is unreachable or just restarted (connections terminated by the server).
DB_DOWN = DATABASE_DOWN
