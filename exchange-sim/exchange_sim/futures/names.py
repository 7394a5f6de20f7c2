"""USDⓈ-M stream names (pure).

    btcusdt@kline_1m                    kline, pushed every 250 ms
    btcusdt_perpetual@continuousKline_1m  the same candles keyed by pair and contract type
    btcusdt@depth  @depth@100ms  @depth@500ms          diff events (250 ms by default)
    btcusdt@depth20  @depth5@100ms  @depth10@500ms     partial books (250 ms by default)

Book streams belong to the `public` route, the others to `market`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from exchange_sim.events import StreamError
from exchange_sim.intervals import is_interval

PARTIAL_LEVELS = (5, 10, 20)
_SPEEDS = {"100ms": 100, "250ms": 250, "500ms": 500}


@dataclass(frozen=True, slots=True)
class FStream:
    name: str  # as the client wrote it
    symbol: str  # upper case
    kind: str  # "kline", "continuous", "diff" or "partial"
    interval: str = "1m"
    levels: int = 0
    speed_ms: int = 250

    @property
    def route(self) -> str:
        return "public" if self.kind in ("diff", "partial") else "market"


def parse_stream(name: str, symbols: Collection[str]) -> FStream:
    parts = name.split("@")
    if len(parts) not in (2, 3) or not parts[0] or parts[0] != parts[0].lower():
        raise StreamError(f"Invalid stream name {name!r}")
    head, kind = parts[0], parts[1]
    if kind.startswith("continuousKline_") and len(parts) == 2:
        pair, _, contract = head.partition("_")
        if contract != "perpetual":
            raise StreamError(f"Only perpetual contracts are served: {name!r}")
        return FStream(name, _symbol(pair, symbols, name), "continuous", _interval(kind, name))
    symbol = _symbol(head, symbols, name)
    if kind.startswith("kline_") and len(parts) == 2:
        return FStream(name, symbol, "kline", _interval(kind, name))
    if kind.startswith("depth"):
        speed = _SPEEDS.get(parts[2]) if len(parts) == 3 else 250
        if speed is None:
            raise StreamError(f"Invalid update speed in stream {name!r}")
        if kind == "depth":
            return FStream(name, symbol, "diff", speed_ms=speed)
        levels = kind[5:]
        if levels.isdigit() and int(levels) in PARTIAL_LEVELS:
            return FStream(name, symbol, "partial", levels=int(levels), speed_ms=speed)
    raise StreamError(f"Unsupported stream {name!r}")


def _symbol(text: str, symbols: Collection[str], name: str) -> str:
    symbol = text.upper()
    if symbol not in symbols:
        raise StreamError(f"Invalid symbol in stream {name!r}")
    return symbol


def _interval(kind: str, name: str) -> str:
    interval = kind.partition("_")[2]
    if not is_interval(interval):
        raise StreamError(f"Invalid interval in stream {name!r}")
    return interval
