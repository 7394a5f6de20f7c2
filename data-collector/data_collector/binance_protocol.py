"""Binance spot's combined stream as a `venue_stream.WireProtocol`.

One connection carries every market's `@kline_1m` and `@depth@100ms` (diff depth), named in
the combined URL, so nothing is sent after connecting; the server pings every 20 s and aiohttp
answers, so there is no application heartbeat. Books start, and resync, from a REST snapshot
(`GET /api/v3/depth?limit=1000`, weight 50, paced by BinanceRest's budget) that the diffs,
chained by U == previous u + 1 (`Sequencing.BINANCE_SPOT`), are applied to.
`serverShutdown` asks for a new connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from data_collector import binance_payloads as payloads
from data_collector.book_sync import Sequencing
from data_collector.exchange import ExchangeMalformed
from data_collector.rest import BinanceRest
from data_collector.settings import CollectorSettings
from data_collector.venue_stream import BookSnapshot, Event
from linkora_core.markets import Market, Venue

DEPTH_LIMIT = 1000  # Binance's advice for a local book; deep enough that diffs keep its top


@dataclass(eq=False)
class BinanceProtocol:
    stream_url: str
    rest: BinanceRest

    @property
    def venue(self) -> Venue:
        return self.rest.venue

    @property
    def sequencing(self) -> Sequencing:
        return Sequencing.BINANCE_SPOT

    @property
    def rest_snapshots(self) -> bool:
        return True

    @property
    def heartbeat(self) -> tuple[float, str] | None:
        return None

    @property
    def book_depth(self) -> int | None:
        return None  # diff depth sends every change of the whole book

    def connect(self, markets: Sequence[Market]) -> tuple[str, list[str]]:
        return payloads.combined_url(self.stream_url, [m.symbol for m in markets]), []

    def parse(self, data: str, received_ms: int) -> list[Event]:
        return payloads.parse_frame(data, self.venue)

    def resubscribe(self, market: Market) -> list[str]:
        return []  # the diffs keep coming; the resync is a REST snapshot

    async def snapshot(self, market: Market) -> BookSnapshot:
        return await rest_snapshot(self.rest, market, DEPTH_LIMIT)


class DepthSource(Protocol):
    """A Binance REST source with the depth endpoint (spot's or USDⓈ-M's)."""

    async def depth(self, symbol: str, limit: int) -> Any: ...
    def refuse(self, what: str) -> ExchangeMalformed: ...


async def rest_snapshot(rest: DepthSource, market: Market, limit: int) -> BookSnapshot:
    """`GET .../depth` of `market` as the snapshot its diffs are applied to."""
    body = await rest.depth(market.symbol, limit)
    try:
        return payloads.parse_snapshot(market, body)
    except (KeyError, TypeError, ValueError) as error:
        raise rest.refuse(f"depth of {market}: {error!r}") from None


def make_protocol(settings: CollectorSettings, rest: BinanceRest) -> BinanceProtocol:
    return BinanceProtocol(settings.binance_stream_url, rest)
