"""Bybit v5 public market data (spot and linear), served by the same app as the Binance API.

REST under /v5/market/ (time, kline, orderbook, instruments-info) with Bybit's envelope and
its per-IP limit; WebSocket /v5/public/spot and /v5/public/linear with kline and orderbook
topics. Both categories serve the simulator's series of the same symbol.
"""

from exchange_sim.bybit.faults import BookFaults
from exchange_sim.bybit.limits import IpLimiter
from exchange_sim.bybit.venue import BybitVenue

__all__ = ["BookFaults", "BybitVenue", "IpLimiter"]
