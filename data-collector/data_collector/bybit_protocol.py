"""Bybit v5 public stream as a `venue_stream.WireProtocol`: one socket per category
(`/v5/public/spot`, `/v5/public/linear`), topics `kline.1.{SYMBOL}` and `orderbook.50.{SYMBOL}`
(Bybit has no 20-level book; the top 20 are kept from the 50), a text ping every 20 s.

Bybit pushes a book snapshot after every subscribe, so a book out of sync is resynced by
unsubscribing and subscribing its topic again; REST snapshots are never mixed in (their `u`
belongs to a deeper stream).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from data_collector import bybit_payloads as payloads
from data_collector.book_sync import Sequencing
from data_collector.bybit_rest import BybitRest
from data_collector.settings import CollectorSettings
from data_collector.venue_stream import BookSnapshot, Event
from linkora_core.markets import Market, Venue

PING = orjson.dumps({"op": "ping"}).decode()
PING_SECONDS = 20.0
MAX_ARGS = 10  # topics per subscribe request on spot (linear has no limit)


def kline_topic(symbol: str) -> str:
    return f"{payloads.KLINE_TOPIC}{symbol}"


def book_topic(symbol: str) -> str:
    return f"{payloads.BOOK_TOPIC}{symbol}"


def request(op: str, topics: Sequence[str]) -> str:
    return orjson.dumps({"op": op, "args": list(topics)}).decode()


BOOK_DEPTH = 50  # the depth of the orderbook.50 topic


class BybitProtocol:
    sequencing = Sequencing.BYBIT
    rest_snapshots = False
    heartbeat: tuple[float, str] | None = (PING_SECONDS, PING)
    book_depth: int | None = BOOK_DEPTH  # orderbook.50: kept to 50, so cut to 50

    def __init__(self, venue: Venue, stream_url: str) -> None:
        self.venue = venue
        self.url = f"{stream_url.rstrip('/')}/v5/public/{venue.kind.value}"

    def connect(self, markets: Sequence[Market]) -> tuple[str, list[str]]:
        topics = [t for m in markets for t in (kline_topic(m.symbol), book_topic(m.symbol))]
        chunks = [topics[i : i + MAX_ARGS] for i in range(0, len(topics), MAX_ARGS)]
        return self.url, [request("subscribe", chunk) for chunk in chunks]

    def parse(self, data: str, received_ms: int) -> list[Event]:
        return payloads.parse_frame(data, self.venue)

    def resubscribe(self, market: Market) -> list[str]:
        topic = [book_topic(market.symbol)]
        return [request("unsubscribe", topic), request("subscribe", topic)]

    async def snapshot(self, market: Market) -> BookSnapshot:
        raise NotImplementedError("Bybit pushes its book snapshots (rest_snapshots is False)")


def make_protocol(settings: CollectorSettings, rest: BybitRest, venue: Venue) -> BybitProtocol:
    if rest.venue != venue:
        raise ValueError(f"a {rest.venue} source for a {venue} stream")
    return BybitProtocol(venue, settings.bybit_stream_url)
