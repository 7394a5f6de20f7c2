"""Binance USDⓈ-M streams as `venue_stream.WireProtocol`s.

Klines and books are on different routes of fstream (`/market` and `/public`, the 2026 split),
so the venue takes two connections, one protocol each: `make_protocols` gives both, for two
`VenueStream`s. The streams are named in the combined URL, so nothing is sent after
connecting; the server pings and aiohttp answers, so there is no application heartbeat. Books
start, and resync, from a REST snapshot (`GET /fapi/v1/depth?limit=1000`) that the diffs
(`@depth@100ms`, chained by `pu`) are applied to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from data_collector import binance_futures_payloads as payloads
from data_collector.binance_futures_payloads import MARKET, PUBLIC, Route
from data_collector.binance_futures_rest import DEPTH_LIMIT, BinanceFuturesRest
from data_collector.binance_protocol import rest_snapshot
from data_collector.book_sync import Sequencing
from data_collector.settings import CollectorSettings
from data_collector.venue_stream import BookSnapshot, Event
from linkora_core.markets import Market, Venue


@dataclass(eq=False)
class BinanceFuturesProtocol:
    """One route's connection: `market` (1m klines) or `public` (book diffs)."""

    stream_url: str
    rest: BinanceFuturesRest
    route: Route = MARKET

    @property
    def venue(self) -> Venue:
        return payloads.BINANCE_USDM

    @property
    def sequencing(self) -> Sequencing:
        return Sequencing.BINANCE_FUTURES

    @property
    def rest_snapshots(self) -> bool:
        return self.route == PUBLIC

    @property
    def heartbeat(self) -> tuple[float, str] | None:
        return None

    @property
    def book_depth(self) -> int | None:
        return None  # diff depth sends every change of the whole book

    def connect(self, markets: Sequence[Market]) -> tuple[str, list[str]]:
        symbols = [market.symbol for market in markets]
        return payloads.combined_url(self.stream_url, self.route, symbols), []

    def parse(self, data: str, received_ms: int) -> list[Event]:
        return payloads.parse_frame(data, self.venue)

    def resubscribe(self, market: Market) -> list[str]:
        return []  # the diffs keep coming; the resync is a REST snapshot

    async def snapshot(self, market: Market) -> BookSnapshot:
        return await rest_snapshot(self.rest, market, DEPTH_LIMIT)


def make_protocol(
    settings: CollectorSettings, rest: BinanceFuturesRest, route: Route = MARKET
) -> BinanceFuturesProtocol:
    return BinanceFuturesProtocol(settings.binance_futures_stream_url, rest, route)


def make_protocols(
    settings: CollectorSettings, rest: BinanceFuturesRest
) -> tuple[BinanceFuturesProtocol, BinanceFuturesProtocol]:
    """The klines (`/market`) and books (`/public`) protocols: one VenueStream each."""
    return make_protocol(settings, rest, MARKET), make_protocol(settings, rest, PUBLIC)
