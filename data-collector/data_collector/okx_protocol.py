"""OKX v5 WebSocket as a `venue_stream.WireProtocol`, one per connection kind.

OKX serves candles on /ws/v5/business and books on /ws/v5/public, and a `VenueStream`
opens one URL, so a venue needs two streams: one with the CANDLES protocol, one with the
BOOKS protocol (`make_protocols`). Books use the `books` channel (a 400-level snapshot,
then diffs chained by prevSeqId; the top 20 are published); a resync unsubscribes and
subscribes again, which brings a new snapshot. Both connections send the text "ping" every
20 s, as OKX drops a connection silent for 30 s (docs/exchanges/okx.md sections 3, 4, 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import orjson

from data_collector import okx_payloads
from data_collector.book_sync import Sequencing
from data_collector.okx_rest import OkxRest
from data_collector.settings import CollectorSettings
from data_collector.venue_stream import BookSnapshot, Event
from linkora_core.markets import Exchange, Market, Venue

__all__ = ["OkxFeed", "OkxProtocol", "make_protocol", "make_protocols"]

HEARTBEAT = (20.0, "ping")
# Args per subscribe request: OKX allows 64 KB of args in one; 100 short ones stay far below.
ARGS_PER_REQUEST = 100


class OkxFeed(StrEnum):
    """Which connection: its value is the URL's last part."""

    CANDLES = "business"
    BOOKS = "public"


@dataclass(eq=False)
class OkxProtocol:
    venue: Venue
    stream_url: str  # wss://ws.okx.com:8443
    feed: OkxFeed

    sequencing = Sequencing.OKX
    rest_snapshots = False
    heartbeat: tuple[float, str] | None = HEARTBEAT
    book_depth: int | None = None  # `books` sends the deletion of every level it drops

    def __post_init__(self) -> None:
        if self.venue.exchange is not Exchange.OKX:
            raise ValueError(f"{self.venue} is not an OKX venue")

    @property
    def channel(self) -> str:
        if self.feed is OkxFeed.CANDLES:
            return okx_payloads.CANDLE_CHANNEL
        return okx_payloads.BOOK_CHANNEL

    def connect(self, markets: Sequence[Market]) -> tuple[str, list[str]]:
        url = f"{self.stream_url.rstrip('/')}/ws/v5/{self.feed.value}"
        ids = [m.symbol for m in markets]
        chunks = [ids[i : i + ARGS_PER_REQUEST] for i in range(0, len(ids), ARGS_PER_REQUEST)]
        return url, [self._request("subscribe", chunk) for chunk in chunks]

    def parse(self, data: str, received_ms: int) -> list[Event]:
        return okx_payloads.parse_frame(data, self.venue)

    def resubscribe(self, market: Market) -> list[str]:
        """Unsubscribe and subscribe the market's books: OKX then sends a new snapshot."""
        return [
            self._request("unsubscribe", [market.symbol]),
            self._request("subscribe", [market.symbol]),
        ]

    async def snapshot(self, market: Market) -> BookSnapshot:
        raise NotImplementedError("OKX pushes book snapshots; REST books carry no seqId")

    def _request(self, op: str, inst_ids: Sequence[str]) -> str:
        args = [{"channel": self.channel, "instId": inst_id} for inst_id in inst_ids]
        return orjson.dumps({"op": op, "args": args}).decode()


def make_protocol(
    settings: CollectorSettings, rest: OkxRest, venue: Venue, feed: OkxFeed
) -> OkxProtocol:
    """The protocol of one of `venue`'s two connections (`rest` is not needed: OKX pushes
    its snapshots)."""
    if rest.venue != venue:
        raise ValueError(f"the REST source is {rest.venue}'s, not {venue}'s")
    return OkxProtocol(venue, settings.okx_stream_url, feed)


def make_protocols(
    settings: CollectorSettings, rest: OkxRest, venue: Venue
) -> tuple[OkxProtocol, OkxProtocol]:
    """(candles on /ws/v5/business, books on /ws/v5/public): one VenueStream each."""
    return (
        make_protocol(settings, rest, venue, OkxFeed.CANDLES),
        make_protocol(settings, rest, venue, OkxFeed.BOOKS),
    )
