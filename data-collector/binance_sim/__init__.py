"""A Binance-compatible spot market-data server for tests, benchmarks and the offline demo.

REST (`/api/v3/klines`, `depth`, `exchangeInfo`, `time`, `ping`) with request weights,
429/418 and Retry-After; WebSocket kline and partial-depth streams; seeded random-walk or
replayed CSV data; fault injection in-process and over `/_sim/*`.
"""

from binance_sim.clock import SimClock
from binance_sim.config import SimConfig, SymbolSpec
from binance_sim.faults import Faults, FaultSettings
from binance_sim.market import MarketData
from binance_sim.server import SimServer, build_app
from binance_sim.stats import Stats

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
