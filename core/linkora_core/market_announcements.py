"""The market-data messages the collector writes into the outbox for other applications
(issue 18): their routing keys, deterministic ids and JSON bodies (pure).

Every body names its market (exchange, kind, symbol and `market`, the qualified name), gives
times as epoch milliseconds and ISO 8601 UTC (`..._iso`), decimals as plain strings, and null
for a figure the exchange does not publish (trades, taker volumes). A closed candle keeps the
candle fields of the WebSocket message (`market_messages`)::

    crypto.kline.updated.binance.spot.BTCUSDT.1H
    {"exchange":"binance","kind":"spot","symbol":"BTCUSDT","market":"binance:spot:BTCUSDT",
     "timeframe":"1H","timestamp":1700000000000,"timestamp_iso":"2023-11-14T22:13:20.000Z",
     "open":"37000.1","high":"37012.5","low":"36999","close":"37010","volume":"12.5",
     "quote_volume":"462600","trades":101,"taker_buy_volume":"6.2",
     "taker_buy_quote_volume":"229400","closed":true,"close_time":1700003599999,
     "close_time_iso":"2023-11-14T23:13:19.999Z"}

    crypto.price.updated.bybit.linear.BTCUSDT      (a sample of the live minute)
    {..., "price":"37010","timestamp":1700000012345,"timestamp_iso":"...",
     "minute":1699999980000,"minute_iso":"...","closed":false}

    crypto.orderbook.updated.binance.spot.BTCUSDT  (a stored book)
    {..., "timestamp":1700000012345,"timestamp_iso":"...","last_update_id":160,
     "bids":[{"price":"37000","quantity":"1.5"}],"asks":[{"price":"37000.1","quantity":"2"}]}

    crypto.historical.updated.binance.spot.ETHUSDT (a committed backfill chunk of 1m candles)
    {..., "timeframe":"1","first_open_time":1577923200000,"first_open_time_iso":"...",
     "last_open_time":1577983140000,"last_open_time_iso":"...","count":1000}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from linkora_core import broker_messages
from linkora_core.books import Book, Level
from linkora_core.candles import Candle
from linkora_core.decimals import plain_or_null, to_plain
from linkora_core.epoch import to_datetime
from linkora_core.markets import Market
from linkora_core.outbox import Message
from linkora_core.timeframes import Timeframe

__all__ = [
    "book_message", "candle_body", "candle_message", "historical_message", "iso", "price_message",
]  # fmt: skip


def iso(ms: int) -> str:
    """Epoch ms as ISO 8601 UTC with milliseconds: `2023-11-14T22:13:20.000Z`."""
    return to_datetime(ms).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _encode(body: Mapping[str, Any]) -> str:
    return orjson.dumps(body).decode()


def candle_body(market: Market, candle: Candle) -> dict[str, Any]:
    """The body of a closed candle of any timeframe (the candle's own)."""
    return {
        **market.names(),
        "timeframe": candle.timeframe.value,
        "timestamp": candle.open_time_ms,
        "timestamp_iso": iso(candle.open_time_ms),
        "open": to_plain(candle.open),
        "high": to_plain(candle.high),
        "low": to_plain(candle.low),
        "close": to_plain(candle.close),
        "volume": to_plain(candle.volume),
        "quote_volume": to_plain(candle.quote_volume),
        "trades": candle.trades,
        "taker_buy_volume": plain_or_null(candle.taker_buy_volume),
        "taker_buy_quote_volume": plain_or_null(candle.taker_buy_quote_volume),
        "closed": True,
        "close_time": candle.close_time_ms,
        "close_time_iso": iso(candle.close_time_ms),
    }


def candle_message(market: Market, candle: Candle) -> Message:
    """`crypto.kline.updated.<market>.<tf>` of a closed candle, id market/timeframe/open."""
    timeframe = candle.timeframe
    return Message(
        broker_messages.candle_id(market, timeframe, candle.open_time_ms),
        broker_messages.market_key(broker_messages.KLINE, market, timeframe),
        _encode(candle_body(market, candle)),
    )


def price_message(market: Market, minute: Candle, closed: bool, at_ms: int) -> Message:
    """`crypto.price.updated.<market>`: the last price (the live minute's close) sampled at
    `at_ms`, with the minute it comes from."""
    body = {
        **market.names(),
        "price": to_plain(minute.close),
        "timestamp": at_ms,
        "timestamp_iso": iso(at_ms),
        "minute": minute.open_time_ms,
        "minute_iso": iso(minute.open_time_ms),
        "closed": closed,
    }
    return Message(
        broker_messages.sampled_id("price", market, at_ms),
        broker_messages.market_key(broker_messages.PRICE, market),
        _encode(body),
    )


def _level(level: Level) -> dict[str, str]:
    return {"price": to_plain(level[0]), "quantity": to_plain(level[1])}


def book_message(book: Book) -> Message:
    """`crypto.orderbook.updated.<market>`: a stored book, best price first, id its market
    and the time the collector received it."""
    body = {
        **book.market.names(),
        "timestamp": book.received_ms,
        "timestamp_iso": iso(book.received_ms),
        "last_update_id": book.last_update_id,
        "bids": [_level(level) for level in book.bids],
        "asks": [_level(level) for level in book.asks],
    }
    return Message(
        broker_messages.sampled_id("orderbook", book.market, book.received_ms),
        broker_messages.market_key(broker_messages.ORDERBOOK, book.market),
        _encode(body),
    )


def historical_message(market: Market, first_ms: int, last_ms: int, count: int) -> Message:
    """`crypto.historical.updated.<market>`: `count` 1m candles opening from `first_ms` to
    `last_ms` were committed (a backfill or audit chunk); read them from REST /candles."""
    body = {
        **market.names(),
        "timeframe": Timeframe.MINUTE_1.value,
        "first_open_time": first_ms,
        "first_open_time_iso": iso(first_ms),
        "last_open_time": last_ms,
        "last_open_time_iso": iso(last_ms),
        "count": count,
    }
    return Message(
        broker_messages.historical_id(market, first_ms, last_ms),
        broker_messages.market_key(broker_messages.HISTORICAL, market),
        _encode(body),
    )
