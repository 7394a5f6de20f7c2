"""Bybit v5 payloads -> the collector's rows and stream events (pure; docs/exchanges/bybit.md).

REST kline rows become Binance's 12-field layout (exchange.py), oldest first, with None for
what Bybit does not publish (trade count, taker volumes). Stream frames of `kline.1.{SYMBOL}`
become LiveCandles closed when `confirm` is true; `orderbook.50.{SYMBOL}` frames become a
BookSnapshot (`type` "snapshot", `u == 1` after a service restart included) or a BookDiff
carrying `u` as both ids (Sequencing.BYBIT wants each delta's `u` to follow the last by one).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from data_collector.book_sync import Diff, WireLevel
from data_collector.venue_stream import BookDiff, BookSnapshot, Event
from linkora_core.candles import Candle, LiveCandle, parse_kline
from linkora_core.decimals import parse_decimal
from linkora_core.epoch import MINUTE_MS
from linkora_core.markets import Market, Venue

log = logging.getLogger(__name__)

KLINE_TOPIC = "kline.1."
BOOK_TOPIC = "orderbook.50."


def kline_rows(items: Any) -> list[list[Any]]:
    """`result.list` of GET /v5/market/kline (newest first, seven strings a row) -> rows in
    Binance's layout, oldest first::

        [["1718000040000","67010.5","67021.2","67001.0","67015.3","1.204311","80702.84451"],
         ["1717999980000","66998.1","67012.0","66990.4","67010.5","2.019874","135317.90122"]]

    -> [[1717999980000, "66998.1", "67012.0", "66990.4", "67010.5", "2.019874",
         1718000039999, "135317.90122", None, None, None, "0"], [1718000040000, ...]]

    ValueError for a row not shaped so.
    """
    if not isinstance(items, list):
        raise ValueError("kline list is not a list")
    rows: dict[int, list[Any]] = {}
    for item in items:
        if not isinstance(item, list) or len(item) != 7:
            raise ValueError(f"a Bybit kline has 7 fields: {str(item)[:100]}")
        if not all(isinstance(field, str) for field in item):
            raise ValueError(f"Bybit kline fields are strings: {str(item)[:100]}")
        start, open_, high, low, close, volume, turnover = item
        open_ms = _ms(start)
        rows[open_ms] = [
            open_ms, open_, high, low, close, volume, open_ms + MINUTE_MS - 1, turnover,
            None, None, None, "0",
        ]  # fmt: skip
    return [rows[at] for at in sorted(rows)]


def server_ms(result: Any) -> int:
    """`result` of GET /v5/market/time -> milliseconds::

    {"timeSecond":"1718000000","timeNano":"1718000000123456789"}
    """
    if not isinstance(result, dict):
        raise ValueError("time result is not an object")
    nano = result.get("timeNano")
    if not isinstance(nano, str) or not nano.isdigit():
        raise ValueError(f"timeNano is not digits: {nano!r}")
    return int(nano) // 1_000_000


def instruments(result: Any) -> tuple[dict[str, dict[str, Any]], str]:
    """`result` of GET /v5/market/instruments-info -> ({symbol: instrument}, next cursor)::

    {"category":"linear","nextPageCursor":"","list":[{"symbol":"BTCUSDT",
     "contractType":"LinearPerpetual","status":"Trading","baseCoin":"BTC","quoteCoin":"USDT",
     "settleCoin":"USDT","launchTime":"1585526400000","priceScale":"2", ...}]}
    """
    if not isinstance(result, dict) or not isinstance(result.get("list"), list):
        raise ValueError("instruments result has no list")
    out: dict[str, dict[str, Any]] = {}
    for item in result["list"]:
        if not isinstance(item, dict) or not isinstance(item.get("symbol"), str):
            raise ValueError(f"an instrument without a symbol: {str(item)[:100]}")
        out[item["symbol"]] = item
    cursor = result.get("nextPageCursor") or ""
    return out, str(cursor)


def launch_ms(instrument: dict[str, Any]) -> int | None:
    """An instrument's `launchTime` (linear only; spot has none)."""
    value = instrument.get("launchTime")
    if value is None or value == "":
        return None
    return _ms(value)


def parse_frame(data: str | bytes, venue: Venue) -> list[Event]:
    """The events of one frame of `venue`'s public stream; none for acks and pongs. A refused
    subscribe is logged (its `ret_msg` says why)."""
    message = orjson.loads(data)
    if not isinstance(message, dict):
        raise ValueError("a Bybit frame is a JSON object")
    topic = message.get("topic")
    if topic is None:
        if message.get("success") is False:
            log.error("%s refused %s: %s", venue, message.get("op"), message.get("ret_msg"))
        return []
    if not isinstance(topic, str):
        raise ValueError(f"topic is not a string: {topic!r}")
    if topic.startswith(KLINE_TOPIC):
        return [*kline_event(message, venue)]
    if topic.startswith(BOOK_TOPIC):
        return [book_event(message, venue)]
    return []


def kline_event(message: dict[str, Any], venue: Venue) -> list[LiveCandle]:
    """A `kline.1.{SYMBOL}` push::

    {"topic":"kline.1.BTCUSDT","type":"snapshot","ts":1718000039987,
     "data":[{"start":1717999980000,"end":1718000039999,"interval":"1",
              "open":"66998.1","close":"67010.5","high":"67012","low":"66990.4",
              "volume":"2.019874","turnover":"135317.90122",
              "confirm":true,"timestamp":1718000039987}]}
    """
    market = Market(venue, _topic_symbol(message["topic"]))
    items = message["data"]
    if not isinstance(items, list):
        raise ValueError("kline data is not a list")
    return [LiveCandle(market, _candle(item), _confirm(item)) for item in items]


def book_event(message: dict[str, Any], venue: Venue) -> BookSnapshot | BookDiff:
    """An `orderbook.50.{SYMBOL}` push, a snapshot or a delta::

    {"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1718000060035,
     "data":{"s":"BTCUSDT","b":[["67010.3","0"],["67009.8","0.500"]],"a":[],
             "u":18521289,"seq":71234458160},
     "cts":1718000060021}
    """
    market = Market(venue, _topic_symbol(message["topic"]))
    data = message["data"]
    if not isinstance(data, dict):
        raise ValueError("book data is not an object")
    u = data["u"]
    if type(u) is not int:
        raise ValueError(f"u is not an integer: {u!r}")
    bids, asks = _levels(data["b"]), _levels(data["a"])
    kind = message.get("type")
    if kind == "snapshot":
        return BookSnapshot(market, u, bids, asks)
    if kind == "delta":
        return BookDiff(market, Diff(u, u, bids, asks))
    raise ValueError(f"unknown book message type {kind!r}")


def _candle(item: Any) -> Candle:
    if not isinstance(item, dict):
        raise ValueError("a kline item is an object")
    if item.get("interval") != "1":
        raise ValueError(f"expected a 1m kline, got {item.get('interval')!r}")
    # The item's fields in the REST row layout, which parse_kline checks (1m bucket, end).
    row = [item["start"], *(item[k] for k in _ROW_PRICES), item["end"], item["turnover"]]
    return parse_kline([*row, None, None, None, "0"])


_ROW_PRICES = ("open", "high", "low", "close", "volume")


def _confirm(item: dict[str, Any]) -> bool:
    confirm = item["confirm"]
    if not isinstance(confirm, bool):
        raise ValueError(f"confirm is not a boolean: {confirm!r}")
    return confirm


def _levels(side: Any) -> list[WireLevel]:
    if not isinstance(side, list):
        raise ValueError("book side is not a list")
    out: list[WireLevel] = []
    for level in side:
        if not isinstance(level, Sequence) or len(level) != 2:
            raise ValueError(f"a level is [price, size]: {level!r}")
        price, size = level
        if not isinstance(price, str) or not isinstance(size, str):
            raise ValueError(f"level fields are strings: {level!r}")
        parse_decimal(price)
        parse_decimal(size)
        out.append((price, size))
    return out


def _topic_symbol(topic: str) -> str:
    return topic.rsplit(".", 1)[1]


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValueError(f"expected decimal text, got {value!r}")
    return parse_decimal(value)


def _ms(text: object) -> int:
    if not isinstance(text, str) or not text.isdigit():
        raise ValueError(f"not a millisecond time: {text!r}")
    return int(text)
