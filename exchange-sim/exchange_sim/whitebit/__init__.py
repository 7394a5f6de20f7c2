"""WhiteBIT public market data (spot), served by the same app as the Binance API.

REST: /api/v4/public/{time,ping,platform/status,markets,assets,orderbook/{market}} and
/api/v1/public/kline, with WhiteBIT's bodies and per-endpoint limits (HTTP 429). WebSocket:
/whitebit/ws (api.whitebit.com/ws; Binance spot has /ws) with the candles_* and depth_*
methods. Market `BTC_USDT` serves the simulator's `BTCUSDT`.

    add_routes(app, state)                  # documented limits
    venue = WhitebitVenue(state, Limits(kline=5)); venue.add_routes(app)
    app[VENUE].limiter.rejected, app[VENUE].faults.set(skip_delta_next=1)
"""

from __future__ import annotations

from aiohttp import web

from exchange_sim.state import SimState
from exchange_sim.whitebit.faults import DepthFaults
from exchange_sim.whitebit.limits import EndpointLimiter, Limits
from exchange_sim.whitebit.streams import WsSettings
from exchange_sim.whitebit.venue import VENUE, WhitebitVenue


def add_routes(app: web.Application, state: SimState) -> None:
    """Register WhiteBIT's paths with its documented limits; the venue is `app[VENUE]`."""
    WhitebitVenue(state).add_routes(app)


__all__ = [
    "VENUE",
    "DepthFaults",
    "EndpointLimiter",
    "Limits",
    "WhitebitVenue",
    "WsSettings",
    "add_routes",
]
