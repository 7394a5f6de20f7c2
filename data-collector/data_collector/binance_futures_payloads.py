"""Binance USDⓈ-M payloads -> kline rows and stream events (pure).

Since Binance's 2026 split of fstream, klines and books come from two hosts' routes:
`<stream>/market/stream?streams=btcusdt@kline_1m` and
`<stream>/public/stream?streams=btcusdt@depth@100ms` (docs/exchanges/binance.md §2). The book
is kept from the diff stream and a REST snapshot under `Sequencing.BINANCE_FUTURES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal

from data_collector.binance_payloads import (
    frame_events,
    int_field,
    parse_snapshot,
    symbol_of,
    wire_levels,
)
from data_collector.book_sync import Diff
from data_collector.venue_stream import BookDiff, Event
from linkora_core.markets import Exchange, Kind, Market, Venue

__all__ = ["BINANCE_USDM", "combined_url", "kline_rows", "parse_diff", "parse_frame",
           "parse_snapshot", "stream_names", "wire_levels"]  # fmt: skip

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
    """One combined-stream frame (binance_payloads.frame_events) with futures diffs."""
    return frame_events(raw, venue, parse_diff)


def parse_diff(data: dict[str, Any], venue: Venue = BINANCE_USDM) -> BookDiff:
    """A `<symbol>@depth@100ms` event; `pu` is the previous event's `u`::

    {"e":"depthUpdate","E":1767225600321,"T":1767225600316,"s":"BTCUSDT",
     "U":9301245511950,"u":9301245512104,"pu":9301245511948,
     "b":[["87412.20","4.790"],["87405.00","0"]],"a":[["87412.30","0.980"]]}
    """
    first, last, previous = (int_field(data, key) for key in ("U", "u", "pu"))
    if first > last:
        raise ValueError(f"U {first} > u {last}")
    diff = Diff(first, last, wire_levels(data["b"]), wire_levels(data["a"]), previous_id=previous)
    return BookDiff(Market(venue, symbol_of(data["s"])), diff)
