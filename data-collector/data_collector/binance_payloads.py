"""Binance payloads -> candles, books and control events (pure): the combined stream's
frames, and the REST depth answer, which has the stream's book shape. The connection that
reads the frames is ws_stream. Candles and books belong to the markets of the venue the
frames come from (Binance spot unless told).

Stream names: `btcusdt@kline_1m` and `btcusdt@depth20@100ms`, joined as
`/stream?streams=btcusdt@kline_1m/btcusdt@depth20@100ms/...`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from linkora_core.books import Book, Level
from linkora_core.candles import LiveCandle, parse_kline
from linkora_core.decimals import parse_decimal
from linkora_core.markets import BINANCE_SPOT, Market, Venue


@dataclass(frozen=True, slots=True)
class ServerShutdown:
    """The server announced a restart: reconnect now rather than be cut off."""


Event = LiveCandle | Book | ServerShutdown


def stream_names(symbols: Iterable[str], depth_levels: int = 20) -> list[str]:
    names: list[str] = []
    for symbol in symbols:
        lower = symbol.lower()
        names += [f"{lower}@kline_1m", f"{lower}@depth{depth_levels}@100ms"]
    return names


def combined_url(base_url: str, symbols: Iterable[str], depth_levels: int = 20) -> str:
    return f"{base_url.rstrip('/')}/stream?streams={'/'.join(stream_names(symbols, depth_levels))}"


def parse_message(
    raw: str | bytes, received_ms: int, levels: int = 20, venue: Venue = BINANCE_SPOT
) -> Event | None:
    """One combined-stream frame of `venue`; None for anything we do not use (e.g. subscribe
    answers)."""
    message = orjson.loads(raw)
    if not isinstance(message, dict):
        return None
    if message.get("e") == "serverShutdown":
        return ServerShutdown()
    stream, data = message.get("stream"), message.get("data")
    if not isinstance(stream, str) or not isinstance(data, dict):
        return None
    if data.get("e") == "serverShutdown":
        return ServerShutdown()
    if "@kline_" in stream:
        return parse_kline_event(data, venue)
    if "@depth" in stream:
        market = Market(venue, stream.split("@", 1)[0].upper())
        return parse_depth(market, data, received_ms, levels)
    return None


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
    """A partial book (`<symbol>@depth20@100ms`, or REST `/api/v3/depth`)::

        {"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}

    It names neither symbol nor time: the market comes from the stream name (or the request)
    and the time is when we received it.
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
