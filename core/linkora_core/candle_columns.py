"""The columns that hold a candle's values in `candles` and `candle_rollups` (migration 0001),
in the order of the `Candle` fields, for the SQL of every service that reads or writes them.

    INSERT INTO candle_rollups (symbol, timeframe, open_time, {VALUES}) ...
    ON CONFLICT (...) DO UPDATE SET {assignments(VALUE_COLUMNS)}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

from linkora_core.candles import Candle
from linkora_core.timeframes import Timeframe

__all__ = ["VALUES", "VALUE_COLUMNS", "assignments", "candle", "qualified", "values"]

VALUE_COLUMNS: Final = (
    "open_price", "high_price", "low_price", "close_price", "volume", "quote_volume", "trades",
    "taker_buy_volume", "taker_buy_quote_volume",
)  # fmt: skip
VALUES: Final = ", ".join(VALUE_COLUMNS)
"""The value columns as a SQL column list."""


def values(c: Candle) -> tuple[Decimal | int | None, ...]:
    """A candle's values in VALUE_COLUMNS order."""
    return (c.open, c.high, c.low, c.close, c.volume, c.quote_volume, c.trades,
            c.taker_buy_volume, c.taker_buy_quote_volume)  # fmt: skip


def candle(open_time_ms: int, row: Sequence[Any], timeframe: Timeframe) -> Candle:
    """The candle of a row whose fields are VALUE_COLUMNS, in that order."""
    o, h, low, c, volume, quote, trades, taker, taker_quote = row
    return Candle(open_time_ms, o, h, low, c, volume, quote, trades, taker, taker_quote, timeframe)


def assignments(columns: Iterable[str], source: str = "EXCLUDED") -> str:
    """`col = EXCLUDED.col, ...`, for an upsert's DO UPDATE SET."""
    return ", ".join(f"{column} = {source}.{column}" for column in columns)


def qualified(table: str, columns: Iterable[str]) -> str:
    """`table.col, ...`."""
    return ", ".join(f"{table}.{column}" for column in columns)
