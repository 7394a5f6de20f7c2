"""WhiteBIT's `/ws` as a `venue_stream.WireProtocol`: JSON-RPC requests, 1m candles and the
20-level book pushed as a snapshot and then deltas chained by `past_update_id`.

A second `candles_subscribe` replaces the first on a connection, so one connection carries one
market: a VenueStream of this protocol is given exactly one market. The server closes a socket
after 60 s without a client message, so a ping goes every 50 s.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import orjson

from data_collector.book_sync import Sequencing
from data_collector.settings import CollectorSettings
from data_collector.venue_stream import BookSnapshot, Event
from data_collector.whitebit_payloads import WHITEBIT_SPOT, CandleCloser, frame_events
from data_collector.whitebit_rest import WhitebitRest
from linkora_core.markets import Market, Venue

DEPTH_LIMIT = 100  # one of WhiteBIT's 1, 5, 10, 20, 30, 50, 100: the deepest
PING_SECONDS = 50.0
PING = '{"id":0,"method":"ping","params":[]}'


class WhitebitProtocol:
    venue: Venue = WHITEBIT_SPOT
    sequencing: Sequencing = Sequencing.WHITEBIT
    rest_snapshots: bool = False  # the REST book has no update id; the socket sends snapshots
    heartbeat: tuple[float, str] | None = (PING_SECONDS, PING)
    # Updates cover the subscribed depth only: the book is cut to it after each (WhiteBIT's
    # depth page says so), and taken deeper than it is published so that a removal inside
    # the published levels leaves levels to move up.
    book_depth: int | None = DEPTH_LIMIT

    def __init__(self, stream_url: str, depth: int = DEPTH_LIMIT) -> None:
        self._url = stream_url.rstrip("/") + "/ws"
        self._depth = self.book_depth = depth
        self._markets: dict[str, Market] = {}
        self._closer = CandleCloser()
        self._ids = itertools.count(1)

    def connect(self, markets: Sequence[Market]) -> tuple[str, list[str]]:
        if len(markets) != 1:
            raise ValueError(
                f"a WhiteBIT connection carries one market's candles, got {len(markets)}"
            )
        self._markets = {m.symbol: m for m in markets}
        self._closer.reset()
        self._ids = itertools.count(1)
        (market,) = markets
        return self._url, [
            self._request("candles_subscribe", [market.symbol, 60]),
            *self._depth_subscribe(),
        ]

    def parse(self, data: str, received_ms: int) -> list[Event]:
        return list(frame_events(data, self._markets, self._closer))

    def resubscribe(self, market: Market) -> list[str]:
        """Drop the depth subscriptions and take them again: the server then starts with a
        snapshot (the candle subscription is another data type and stays)."""
        return [self._request("depth_unsubscribe", []), *self._depth_subscribe()]

    async def snapshot(self, market: Market) -> BookSnapshot:
        raise NotImplementedError("WhiteBIT books start from the snapshot the socket pushes")

    def _depth_subscribe(self) -> list[str]:
        # The last parameter true adds the market to the connection's depth subscriptions.
        return [
            self._request("depth_subscribe", [name, self._depth, "0", True])
            for name in self._markets
        ]

    def _request(self, method: str, params: list[object]) -> str:
        message = {"id": next(self._ids), "method": method, "params": params}
        return orjson.dumps(message).decode()


def make_protocol(settings: CollectorSettings, rest: WhitebitRest) -> WhitebitProtocol:
    return WhitebitProtocol(settings.whitebit_stream_url)
