"""Binance USDⓈ-M futures public market data, served by the same app as the spot API.

REST under /fapi/v1 (ping, time, exchangeInfo, klines, continuousKlines, depth) with its own
REQUEST_WEIGHT budget; WebSocket under /fstream (fstream.binance.com's /ws, /stream and the
routed /public and /market forms) with kline, continuous kline, diff and partial depth
streams. A futures symbol serves the simulator's series of the same name.

    venue = add_routes(app, state)          # after build_app(state)
    venue.faults.skip_diff_next = 1         # the next diff event goes missing (a pu gap)
"""

from __future__ import annotations

from aiohttp import web

from exchange_sim.futures.hub import StreamFaults
from exchange_sim.futures.venue import FuturesVenue
from exchange_sim.state import SimState

__all__ = ["FuturesVenue", "StreamFaults", "add_routes"]


def add_routes(app: web.Application, state: SimState, **options: object) -> FuturesVenue:
    """Serve USDⓈ-M futures on `app`; `options` go to FuturesVenue (weight_limit, ...)."""
    venue = FuturesVenue(state, **options)  # type: ignore[arg-type]
    venue.add_routes(app)
    return venue
