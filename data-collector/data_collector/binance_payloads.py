"""Binance payloads -> candles, book snapshots and diffs, and control events (pure): the
combined stream's frames and the REST depth answer. Binance spot's own, and the parts Binance
USDⓈ-M shares (binance_futures_payloads.py). The connection that reads the frames is a
`venue_stream.VenueStream` (binance_protocol.py).

Spot stream names: `btcusdt@kline_1m` and `btcusdt@depth@100ms` (diff depth), joined as
`/stream?streams=btcusdt@kline_1m/btcusdt@depth@100ms/...`. The book is kept from the diffs and
a REST snapshot under `Sequencing.BINANCE_SPOT`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from data_collector.book_sync import Diff, WireLevel
from data_collector.venue_stream import BookDiff, BookSnapshot, Event, Reconnect
from linkora_core.books import Book, Level
from linkora_core.candles import LiveCandle, parse_kline
from linkora_core.decimals import parse_decimal
from linkora_core.markets import BINANCE_SPOT, Market, Venue

DiffParser = Callable[[dict[str, Any], Venue], BookDiff]


def stream_names(symbols: Iterable[str]) -> list[str]:
    names: list[str] = []
    for symbol in symbols:
        lower = symbol.lower()
        names += [f"{lower}@kline_1m", f"{lower}@depth@100ms"]
    return names


def combined_url(base_url: str, symbols: Iterable[str]) -> str:
    return f"{base_url.rstrip('/')}/stream?streams={'/'.join(stream_names(symbols))}"


def parse_frame(raw: str | bytes, venue: Venue = BINANCE_SPOT) -> list[Event]:
    """One spot combined-stream frame (see `frame_events`)."""
    return frame_events(raw, venue, parse_diff)


def frame_events(raw: str | bytes, venue: Venue, diff: DiffParser) -> list[Event]:
    """One combined-stream frame: `{"stream": ..., "data": {...}}` with a kline or depthUpdate
    event (`diff` parses the venue's), or `serverShutdown` (wrapped or not); subscribe answers
    (`{"result":null,"id":1}`) give none. ValueError (or KeyError, TypeError) for a frame not
    shaped as documented, including an error answer."""
    message = orjson.loads(raw)
    if not isinstance(message, dict):
        raise ValueError("a frame is a JSON object")
    if "error" in message:
        raise ValueError(f"error answer: {message['error']}")
    if "result" in message and "id" in message:
        return []
    data = message if message.get("e") == "serverShutdown" else message["data"]
    if not isinstance(data, dict):
        raise TypeError("a frame's data is an object")
    kind = data.get("e")
    if kind == "kline":
        return [parse_kline_event(data, venue)]
    if kind == "depthUpdate":
        return [diff(data, venue)]
    if kind == "serverShutdown":
        return [Reconnect("server shutdown announced")]
    return []  # streams we do not collect


def parse_diff(data: dict[str, Any], venue: Venue = BINANCE_SPOT) -> BookDiff:
    """A spot `<symbol>@depth@100ms` event, the levels updated between ids U and u::

    {"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,
     "b":[["0.0024","10"]],"a":[["0.0026","100"]]}
    """
    first, last = int_field(data, "U"), int_field(data, "u")
    if first > last:
        raise ValueError(f"U {first} > u {last}")
    diff = Diff(first, last, wire_levels(data["b"]), wire_levels(data["a"]))
    return BookDiff(Market(venue, symbol_of(data["s"])), diff)


def parse_snapshot(market: Market, body: object) -> BookSnapshot:
    """`GET /api/v3/depth?symbol=BNBBTC&limit=1000` (also `/fapi/v1/depth`, which adds E and
    T); it names no symbol::

    {"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],
     "asks":[["4.00000200","12.00000000"]]}
    """
    if not isinstance(body, dict):
        raise TypeError("depth answer is not an object")
    return BookSnapshot(
        market, int_field(body, "lastUpdateId"), wire_levels(body["bids"]),
        wire_levels(body["asks"]),
    )  # fmt: skip


def wire_levels(side: object) -> list[WireLevel]:
    """`[["87412.20", "4.512"], ...]` as (price, quantity) text pairs."""
    if not isinstance(side, list):
        raise TypeError("a book side is a list")
    levels: list[WireLevel] = []
    for level in side:
        if not (isinstance(level, Sequence) and len(level) == 2):
            raise ValueError(f"a level is [price, quantity]: {level!r}")
        price, quantity = level
        if not (isinstance(price, str) and isinstance(quantity, str)):
            raise TypeError(f"a level's price and quantity are text: {level!r}")
        parse_decimal(price), parse_decimal(quantity)  # ValueError for NaN or any non-number
        levels.append((price, quantity))
    return levels


def int_field(data: dict[str, Any], key: str) -> int:
    value = data[key]
    if type(value) is not int:
        raise TypeError(f"{key} must be an integer, got {value!r}")
    return value


def symbol_of(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"bad symbol {value!r}")
    return value.upper()


def parse_kline_event(data: dict[str, Any], venue: Venue = BINANCE_SPOT) -> LiveCandle:
    """A `<symbol>@kline_1m` event::

    {"e":"kline","E":1700000012345,"s":"BTCUSDT","k":{"t":1700000000000,
     "T":1700000059999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"37000.10000000",
     "c":"37010.00000000","h":"37012.50000000","l":"36999.00000000","v":"12.50000000",
     "n":101,"x":false,"q":"462600.00000000","V":"6.20000000","Q":"229400.00000000",
     "B":"0"}}
    """
    k = data["k"]
    if k.get("i") != "1m":
        raise ValueError(f"expected a 1m kline, got {k.get('i')!r}")
    # The event's fields in the order of a REST kline row, which parse_kline checks; the
    # last ("B", unused) is not always sent.
    row = [*(k[name] for name in _KLINE_ROW), k.get("B")]
    return LiveCandle(Market(venue, str(k["s"]).upper()), parse_kline(row), bool(k["x"]))


_KLINE_ROW = ("t", "o", "h", "l", "c", "v", "T", "q", "n", "V", "Q")


def parse_depth(market: Market, data: dict[str, Any], received_ms: int, levels: int = 20) -> Book:
    """The REST `/api/v3/depth` answer as a book (the poller's; partial-book streams have the
    same shape)::

        {"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}

    It names neither symbol nor time: the market comes from the request and the time is when
    we received it.
    """
    update_id = data["lastUpdateId"]
    if type(update_id) is not int:
        raise ValueError("lastUpdateId must be an integer")
    return Book(
        market=market,
        received_ms=received_ms,
        last_update_id=update_id,
        bids=_levels(data["bids"], levels),
        asks=_levels(data["asks"], levels),
    )


def _levels(side: Sequence[Sequence[str]], levels: int) -> tuple[Level, ...]:
    return tuple((parse_decimal(p), parse_decimal(q)) for p, q in side[:levels])
