"""Settings of one simulator instance, and the per-symbol market defaults."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from exchange_sim.faults import FaultSettings

# Plausible prices around 2024-01-01 and Binance's tick decimals.
KNOWN: dict[str, tuple[str, int]] = {
    "BTCUSDT": ("42000.00", 2),
    "ETHUSDT": ("2300.00", 2),
    "BNBUSDT": ("310.0", 1),
    "SOLUSDT": ("100.00", 2),
    "XRPUSDT": ("0.6000", 4),
    "DOGEUSDT": ("0.09000", 5),
    "ADAUSDT": ("0.5900", 4),
    "LINKUSDT": ("15.000", 3),
    "LTCUSDT": ("72.00", 2),
    "DOTUSDT": ("8.200", 3),
    "AVAXUSDT": ("38.00", 2),
}


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    start_price: str  # exact decimal text
    decimals: int

    @property
    def start_ticks(self) -> int:
        whole, _, frac = self.start_price.partition(".")
        return int(whole + (frac + "0" * self.decimals)[: self.decimals])

    @property
    def base_asset(self) -> str:
        return self.symbol[: -len(self.quote_asset)]

    @property
    def quote_asset(self) -> str:
        for quote in ("USDT", "USDC", "FDUSD", "BUSD", "BTC", "ETH", "BNB"):
            if self.symbol.endswith(quote) and len(self.symbol) > len(quote):
                return quote
        return self.symbol[-4:]


def spec_for(symbol: str) -> SymbolSpec:
    """Known symbols get real-looking prices; others a price derived from the name."""
    symbol = symbol.upper()
    if symbol in KNOWN:
        price, decimals = KNOWN[symbol]
        return SymbolSpec(symbol, price, decimals)
    digest = int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:4], "big")
    ticks = 1_000_000 + digest % 99_000_000  # 0.01 .. 1.00 with 8 decimals
    return SymbolSpec(symbol, f"0.{ticks:08d}", 8)


def parse_day(text: str) -> int:
    """ "2024-01-01" -> days since the epoch."""
    moment = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(moment.timestamp()) // 86_400


@dataclass(frozen=True, slots=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 picks a free port
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    start: str = "2024-01-01"  # first generated day (UTC)
    seed: int = 1
    replay: tuple[Path, ...] = ()  # CSV files named <SYMBOL>_1m.csv
    replay_align_now: bool = (
        False  # shift replayed rows so the last one is the latest closed minute
    )
    zero_trade_ppm: int = 2_000
    gap_hour_ppm: int = 0
    gaps: tuple[tuple[int, int], ...] = ()  # extra [start_ms, end_ms] ranges with no klines
    weight_limit: int = 6000
    ban_base_seconds: float = 120.0
    ban_max_seconds: float = 3 * 86_400.0
    # Requests inside a Retry-After window answered 429 again before a ban (in flight).
    tolerated_in_window: int = 8
    kline_push_interval: float = 2.0
    depth_push_interval: float | None = None  # None: the stream's own @100ms/@1000ms speed
    ping_interval: float = 20.0
    max_connection_seconds: float = 24 * 3600.0
    clock_origin_ms: int | None = None  # None: wall time
    clock_speed: float = 1.0
    cache_chunks: int = 2048  # serialized day chunks kept (about 250 KB each)
    # Bybit: HTTP requests allowed per IP in any window, and the ban that follows (403).
    bybit_ip_limit: int = 600
    bybit_ip_window_seconds: float = 5.0
    bybit_ban_seconds: float = 600.0
    bybit_book_push_interval: float | None = None  # None: Bybit's speed for the depth
    # OKX: per-IP limits replacing the documented ones, keyed by the path's last part
    # ("history-candles"), and their window.
    okx_limits: tuple[tuple[str, int], ...] = ()
    okx_window_seconds: float = 2.0
    # WhiteBIT: per-IP requests in any window, kline and the other public calls.
    whitebit_kline_limit: int = 1000
    whitebit_public_limit: int = 2000
    whitebit_window_seconds: float = 10.0
    faults: FaultSettings = field(default_factory=FaultSettings)

    @property
    def origin_day(self) -> int:
        return parse_day(self.start)

    def specs(self) -> list[SymbolSpec]:
        return [spec_for(s) for s in self.symbols]
