"""Binance USDⓈ-M payloads -> kline rows and stream events (pure).

Since Binance's 2026 split of fstream, klines and books come from two hosts' routes:
`<stream>/market/stream?streams=btcusdt@kline_1m` and
`<stream>/public/stream?streams=btcusdt@depth@100ms` (docs/exchanges/binance.md §2). The book
is kept from the diff stream and a REST snapshot under `Sequencing.BINANCE_FUTURES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal

import orjson

from data_collector.binance_payloads import parse_kline_event
from data_collector.book_sync import Diff, WireLevel
from data_collector.venue_stream import BookDiff, BookSnapshot, Event, Reconnect
from linkora_core.markets import Exchange, Kind, Market, Venue

BINANCE_USDM: Final = Venue(Exchange.BINANCE, Kind.USDM)

Route = Literal["market", "public"]
MARKET: Final[Route] = "market"  # klines
PUBLIC: Final[Route] = "public"  # books

KLINE_FIELDS = 12


def kline_rows(body: object) -> list[list[Any]]:
    """The `/fapi/v1/klines` answer, already in the seam's layout (the 12 spot fields, with
    the trade count and taker volumes), oldest first::

        [[1767225600000,"87412.30","87440.00","87398.10","87431.70","152.318",1767225659999,
          "13315742.81624",2874,"81.007","7081796.44210","0"]]

    ValueError unless it is a list of 12-field rows (paging.check_page checks the rest).
    """
    if not isinstance(body, list):
        raise ValueError("klines answer is not a list")
    rows: list[list[Any]] = []
    for row in body:
        if not isinstance(row, list) or len(row) != KLINE_FIELDS:
            raise ValueError(f"a kline row has {KLINE_FIELDS} fields: {str(row)[:120]}")
        rows.append(row)
    return rows


def stream_names(symbols: Iterable[str], route: Route) -> list[str]:
    suffix = "@kline_1m" if route == MARKET else "@depth@100ms"
    return [symbol.lower() + suffix for symbol in symbols]


def combined_url(stream_url: str, route: Route, symbols: Iterable[str]) -> str:
    """`wss://fstream.binance.com` -> `wss://fstream.binance.com/market/stream?streams=...`."""
    names = "/".join(stream_names(symbols, route))
    return f"{stream_url.rstrip('/')}/{route}/stream?streams={names}"


def parse_frame(raw: str | bytes, venue: Venue = BINANCE_USDM) -> list[Event]:
    """One combined-stream frame: `{"stream": ..., "data": {...}}` with a kline or depthUpdate
    event; subscribe answers (`{"result":null,"id":1}`) give none. ValueError (or KeyError,
    TypeError) for a frame not shaped as documented, including an error answer."""
    message = orjson.loads(raw)
    if not isinstance(message, dict):
        raise ValueError("a frame is a JSON object")
    if "error" in message:
        raise ValueError(f"error answer: {message['error']}")
    if "result" in message and "id" in message:
        return []
    data = message["data"]
    if not isinstance(data, dict):
        raise TypeError("a frame's data is an object")
    kind = data.get("e")
    if kind == "kline":
        return [parse_kline_event(data, venue)]
    if kind == "depthUpdate":
        return [parse_diff(data, venue)]
    if kind == "serverShutdown":
        return [Reconnect("server shutdown announced")]
    return []  # streams we do not collect


def parse_diff(data: dict[str, Any], venue: Venue = BINANCE_USDM) -> BookDiff:
    """A `<symbol>@depth@100ms` event; `pu` is the previous event's `u`::

    {"e":"depthUpdate","E":1767225600321,"T":1767225600316,"s":"BTCUSDT",
     "U":9301245511950,"u":9301245512104,"pu":9301245511948,
     "b":[["87412.20","4.790"],["87405.00","0"]],"a":[["87412.30","0.980"]]}
    """
    first, last, previous = (_id(data, key) for key in ("U", "u", "pu"))
    if first > last:
        raise ValueError(f"U {first} > u {last}")
    diff = Diff(first, last, wire_levels(data["b"]), wire_levels(data["a"]), previous_id=previous)
    return BookDiff(Market(venue, _symbol(data["s"])), diff)


def parse_snapshot(market: Market, body: object) -> BookSnapshot:
    """`GET /fapi/v1/depth?symbol=BTCUSDT&limit=1000` (it names no symbol)::

    {"lastUpdateId":9301245511990,"E":1767225600221,"T":1767225600214,
     "bids":[["87412.20","4.512"],["87412.10","0.039"]],
     "asks":[["87412.30","1.207"],["87412.40","0.310"]]}
    """
    if not isinstance(body, dict):
        raise TypeError("depth answer is not an object")
    return BookSnapshot(
        market, _id(body, "lastUpdateId"), wire_levels(body["bids"]), wire_levels(body["asks"])
    )


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
        levels.append((price, quantity))
    return levels


def _id(data: dict[str, Any], key: str) -> int:
    value = data[key]
    if type(value) is not int:
        raise TypeError(f"{key} must be an integer, got {value!r}")
    return value


def _symbol(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"bad symbol {value!r}")
    return value.upper()
