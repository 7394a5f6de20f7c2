"""OKX v5 public market data (spot and USDT swaps), served by the same app as Binance's API.

REST under /api/v5/ (public/time, public/instruments, market/candles, history-candles,
books) with OKX's envelope, error codes and per-IP limits per endpoint; WebSocket
/ws/v5/public (books) and /ws/v5/business (candles). `BTC-USDT` and `BTC-USDT-SWAP` both
serve the simulator's `BTCUSDT` series.
"""

from exchange_sim.okx.faults import BookSwitches
from exchange_sim.okx.limits import EndpointLimiter
from exchange_sim.okx.settings import DOCUMENTED_LIMITS, OkxSettings
from exchange_sim.okx.venue import OKX_VENUE, OkxVenue, add_routes

__all__ = [
    "DOCUMENTED_LIMITS",
    "OKX_VENUE",
    "BookSwitches",
    "EndpointLimiter",
    "OkxSettings",
    "OkxVenue",
    "add_routes",
]
