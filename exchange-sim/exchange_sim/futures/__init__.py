"""Binance USDⓈ-M futures public market data, served by the same app as the spot API.

REST under /fapi/v1 (ping, time, exchangeInfo, klines, continuousKlines, depth) with its own
REQUEST_WEIGHT budget; WebSocket under /fstream (fstream.binance.com's /ws, /stream and the
routed /public and /market forms) with kline, continuous kline, diff and partial depth
streams. A futures symbol serves the simulator's series of the same name.

    venue = add_routes(app, state)          # after build_app(state); also app[VENUE]
    venue.faults.skip_diff_next = 1         # the next diff event goes missing (a pu gap)
"""

from __future__ import annotations

from aiohttp import web

from exchange_sim.futures.hub import StreamFaults
from exchange_sim.futures.venue import (
    KLINE_PUSH_INTERVAL,
    MAX_MESSAGES_PER_SECOND,
    PING_INTERVAL,
    PREFIX,
    WEIGHT_LIMIT,
    FuturesVenue,
)
from exchange_sim.state import SimState

__all__ = ["VENUE", "FuturesVenue", "StreamFaults", "add_routes"]

VENUE = web.AppKey("exchange_sim.futures", FuturesVenue)


def add_routes(
    app: web.Application,
    state: SimState,
    *,
    weight_limit: int = WEIGHT_LIMIT,
    kline_push_interval: float = KLINE_PUSH_INTERVAL,
    ping_interval: float = PING_INTERVAL,
    strict_routes: bool = False,
    max_messages_per_second: int = MAX_MESSAGES_PER_SECOND,
    prefix: str = PREFIX,
) -> FuturesVenue:
    """Serve USDⓈ-M futures on `app` and keep the venue as `app[VENUE]`."""
    venue = FuturesVenue(
        state,
        weight_limit=weight_limit,
        kline_push_interval=kline_push_interval,
        ping_interval=ping_interval,
        strict_routes=strict_routes,
        max_messages_per_second=max_messages_per_second,
        prefix=prefix,
    )
    venue.add_routes(app)
    app[VENUE] = venue
    return venue
