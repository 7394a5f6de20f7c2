"""Names some collector modules still import from here: core's market-data types (defined in
linkora_core.books and .candles, which the api-server reads too) and the database's executor,
re-exported; and DB_DOWN, the old name of linkora_core.db.DATABASE_DOWN, until its last users
(collector, backfill, audit, live_store, poller) say DATABASE_DOWN."""

from __future__ import annotations

from linkora_core.books import Book
from linkora_core.candles import LiveCandle
from linkora_core.db import DATABASE_DOWN, Executor

__all__ = ["DB_DOWN", "Book", "Executor", "LiveCandle"]

DB_DOWN = DATABASE_DOWN
