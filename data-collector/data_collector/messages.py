"""Candles and books in the JSON shapes other services read from Redis (pure).

Candle::

    {"symbol":"BTCUSDT","timestamp":1700000000000,"open":"37000.1","high":"37012.5",
     "low":"36999","close":"37010","volume":"12.5","quote_volume":"462600","trades":101,
     "timeframe":"1","closed":false,"close_time":1700000059999,
     "taker_buy_volume":"6.2","taker_buy_quote_volume":"229400"}

Order book (best price first)::

    {"symbol":"BTCUSDT","timestamp":1700000012345,"last_update_id":160,
     "bids":[{"price":"37000","quantity":"1.5"}],"asks":[{"price":"37000.1","quantity":"2"}]}
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from data_collector.types import Book, LiveCandle
from linkora_core.decimals import to_plain


def candle_message(live: LiveCandle) -> dict[str, Any]:
    c = live.candle
    return {
        "symbol": live.symbol,
        "timestamp": c.open_time_ms,
        "open": to_plain(c.open),
        "high": to_plain(c.high),
        "low": to_plain(c.low),
        "close": to_plain(c.close),
        "volume": to_plain(c.volume),
        "quote_volume": to_plain(c.quote_volume),
        "trades": c.trades,
        "timeframe": "1",
        "closed": live.closed,
        "close_time": c.close_time_ms,
        "taker_buy_volume": to_plain(c.taker_buy_volume),
        "taker_buy_quote_volume": to_plain(c.taker_buy_quote_volume),
    }


def book_message(book: Book) -> dict[str, Any]:
    return {
        "symbol": book.symbol,
        "timestamp": book.received_ms,
        "last_update_id": book.last_update_id,
        "bids": _side(book.bids),
        "asks": _side(book.asks),
    }


def encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)


def _side(levels: tuple[tuple[Decimal, Decimal], ...]) -> list[dict[str, str]]:
    return [{"price": to_plain(p), "quantity": to_plain(q)} for p, q in levels]
