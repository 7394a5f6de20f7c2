"""A market-data server speaking the exchanges' own public protocols, for tests, benchmarks and
the offline demo: one app, one port, each exchange at its real paths.

Binance spot (`/api/v3/klines`, `depth`, `exchangeInfo`, `time`, `ping`) with request weights,
429/418 and Retry-After; WebSocket kline and partial-depth streams; seeded random-walk or
replayed CSV data; fault injection in-process and over `/_sim/*`. Beside it (`venues.py`):
Binance USDⓈ-M futures (`futures/`, streams under `/fstream`), Bybit v5 (`bybit/`), OKX v5
(`okx/`) and WhiteBIT (`whitebit/`), each with its documented limits, sequencing and faults,
serving the same series (docs/exchanges/ for the facts).
"""

from exchange_sim.clock import SimClock
from exchange_sim.config import SimConfig, SymbolSpec
from exchange_sim.faults import Faults, FaultSettings
from exchange_sim.market import MarketData
from exchange_sim.server import SimServer, build_app
from exchange_sim.stats import Stats

__all__ = [
    "FaultSettings",
    "Faults",
    "MarketData",
    "SimClock",
    "SimConfig",
    "SimServer",
    "Stats",
    "SymbolSpec",
    "build_app",
]
