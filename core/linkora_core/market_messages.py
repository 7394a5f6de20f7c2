"""The market-data messages on the Redis bus (`bus.CANDLES_ALL`, `bus.ORDERBOOK_ALL`): the
JSON the collector publishes and every consumer reads, encoded and decoded here only (pure).

Candle (a live 1m candle)::

    {"symbol":"BTCUSDT","timestamp":1699999980000,"open":"37000.1","high":"37012.5",
     "low":"36999","close":"37010","volume":"12.5","quote_volume":"462600","trades":101,
     "timeframe":"1","closed":false,"close_time":1700000039999,
     "taker_buy_volume":"6.2","taker_buy_quote_volume":"229400"}

Order book (best price first; the api-server's `GET /orderbook` answers the same object)::

    {"symbol":"BTCUSDT","timestamp":1700000012345,"last_update_id":160,
     "bids":[{"price":"37000","quantity":"1.5"}],"asks":[{"price":"37000.1","quantity":"2"}]}

Decimals are minimal plain strings (`decimals.to_plain`), times epoch milliseconds. A market
other than Binance spot adds its `"exchange"` and `"kind"` (`"bybit"`, `"linear"`); without them
a message is Binance spot's, so that one keeps its exact bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from linkora_core.books import Book, Level
from linkora_core.candles import LiveCandle, parse_kline
from linkora_core.decimals import parse_decimal, plain_or_null, to_plain
from linkora_core.markets import BINANCE_SPOT, Market, venue
from linkora_core.timeframes import Timeframe

__all__ = [
    "book_from", "book_message", "candle_from", "candle_message", "decode", "encode", "market_of",
]  # fmt: skip

# What the wire spec makes optional in a candle message, as a reader takes it when absent
# (close_time too: the end of the bucket).
_OPTIONAL = {"timeframe": "1", "closed": False, "trades": 0}
# A candle message's fields in Binance kline order, so that decoding shares parse_kline's
# checks (integer times and trades, decimal strings, one whole bucket).
_KLINE_ORDER = (
    "timestamp", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
    "trades", "taker_buy_volume", "taker_buy_quote_volume",
)  # fmt: skip


def _where(market: Market) -> dict[str, str]:
    if market.venue == BINANCE_SPOT:
        return {}
    return {"exchange": market.venue.exchange.value, "kind": market.venue.kind.value}


def market_of(message: Mapping[str, Any]) -> Market:
    """The market a decoded message names; ValueError for an unknown one."""
    exchange, kind = message.get("exchange"), message.get("kind")
    if exchange is None and kind is None:
        return Market(BINANCE_SPOT, message["symbol"])
    if not isinstance(exchange, str) or not isinstance(kind, str):
        raise ValueError("a message's exchange and kind are strings")
    return Market(venue(exchange, kind), message["symbol"])


def candle_message(live: LiveCandle) -> dict[str, Any]:
    c = live.candle
    return {
        **_where(live.market),
        "symbol": live.symbol,
        "timestamp": c.open_time_ms,
        "open": to_plain(c.open),
        "high": to_plain(c.high),
        "low": to_plain(c.low),
        "close": to_plain(c.close),
        "volume": to_plain(c.volume),
        "quote_volume": to_plain(c.quote_volume),
        "trades": c.trades,
        "timeframe": c.timeframe.value,
        "closed": live.closed,
        "close_time": c.close_time_ms,
        "taker_buy_volume": plain_or_null(c.taker_buy_volume),
        "taker_buy_quote_volume": plain_or_null(c.taker_buy_quote_volume),
    }


def book_message(book: Book) -> dict[str, Any]:
    return {
        **_where(book.market),
        "symbol": book.symbol,
        "timestamp": book.received_ms,
        "last_update_id": book.last_update_id,
        "bids": [_level_message(level) for level in book.bids],
        "asks": [_level_message(level) for level in book.asks],
    }


def encode(message: Mapping[str, Any]) -> bytes:
    return orjson.dumps(message)


def decode(data: bytes | str) -> dict[str, Any]:
    """A message as its JSON object, which names its symbol; ValueError for anything else."""
    message = orjson.loads(data)
    if not isinstance(message, dict) or not isinstance(message.get("symbol"), str):
        raise ValueError("a market message is a JSON object with a string symbol")
    return message


def candle_from(message: Mapping[str, Any]) -> LiveCandle:
    """The live candle of a decoded candle message; ValueError when it is not one."""
    fields = {**_OPTIONAL, **message}
    label, closed, opened = fields["timeframe"], fields["closed"], fields.get("timestamp")
    if not isinstance(label, str) or type(closed) is not bool or type(opened) is not int:
        raise ValueError("a candle message's timeframe, closed and timestamp are mistyped")
    timeframe = Timeframe.parse(label)
    try:
        fields.setdefault("close_time", timeframe.next_start(opened) - 1)
        candle = parse_kline([*(fields.get(name) for name in _KLINE_ORDER), "0"], timeframe)
    except OverflowError:  # a calendar bucket of a time past what datetime holds
        raise ValueError(f"timestamp {opened} is out of range") from None
    return LiveCandle(market_of(message), candle, closed)


def book_from(message: Mapping[str, Any]) -> Book:
    """The book of a decoded book message; ValueError when it is not one."""
    update_id, received = message.get("last_update_id"), message.get("timestamp")
    if type(update_id) is not int or type(received) is not int:
        raise ValueError("a book's timestamp and last_update_id are integers")
    return Book(
        market=market_of(message),
        received_ms=received,
        last_update_id=update_id,
        bids=_levels(message.get("bids")),
        asks=_levels(message.get("asks")),
    )


def _level_message(level: Level) -> dict[str, str]:
    return {"price": to_plain(level[0]), "quantity": to_plain(level[1])}


def _levels(side: object) -> tuple[Level, ...]:
    if not isinstance(side, Sequence):
        raise ValueError("a book side is a list of levels")
    return tuple(_level(level) for level in side)


def _level(level: object) -> Level:
    if not isinstance(level, dict):
        raise ValueError("a level is an object with a price and a quantity")
    price, quantity = level.get("price"), level.get("quantity")
    if not isinstance(price, str) or not isinstance(quantity, str):
        raise ValueError("a level's price and quantity are decimal strings")
    return parse_decimal(price), parse_decimal(quantity)
