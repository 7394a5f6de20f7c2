"""What the collector is doing per market, for logs and the health endpoint, which name a
market as `str(market)`: the bare symbol for Binance spot (as before markets had venues),
`bybit:linear:BTCUSDT` for another venue's."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from data_collector.progress import Progress
from linkora_core.epoch import MINUTE_MS
from linkora_core.markets import Market


def lag_seconds(last_closed_ms: int, now_ms: int) -> float:
    """How far the newest closed minute's end is behind now (0-60 s when keeping up)."""
    return max(0, now_ms - (last_closed_ms + MINUTE_MS)) / 1000


@dataclass(slots=True)
class MarketStatus:
    market: Market
    phase: str = "starting"  # starting | backfill | realtime | error
    progress: Progress | None = None
    last_closed_ms: int | None = None
    last_event_ms: int | None = None
    error: str | None = None

    def closed(self, open_ms: int) -> None:
        if self.last_closed_ms is None or open_ms > self.last_closed_ms:
            self.last_closed_ms = open_ms

    def describe(self, now_ms: int) -> dict[str, Any]:
        lag = None if self.last_closed_ms is None else lag_seconds(self.last_closed_ms, now_ms)
        out: dict[str, Any] = {
            "phase": self.phase,
            "last_closed_minute": self.last_closed_ms,
            "lag_seconds": lag,
            "error": self.error,
        }
        if self.progress is not None:
            eta = self.progress.eta_seconds
            out["backfill"] = {
                "done": self.progress.done,
                "total": self.progress.total,
                "rate": round(self.progress.rate),
                "eta_seconds": None if eta is None else round(eta),
            }
        return out


@dataclass(slots=True)
class CollectorStatus:
    markets: dict[Market, MarketStatus] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    # Each live stream's connection (a venue may take several): up or not, by the stream.
    streams: dict[object, bool] = field(default_factory=dict)

    @property
    def websocket_connected(self) -> bool:
        """Every live stream connected (False while there is none, as in the polling mode)."""
        return bool(self.streams) and all(self.streams.values())

    def of(self, market: Market) -> MarketStatus:
        status = self.markets.get(market)
        if status is None:
            status = self.markets[market] = MarketStatus(market)
        return status

    def named(self) -> list[tuple[str, MarketStatus]]:
        """Every market's status by the name the health endpoint and metrics give it."""
        named = ((str(market), status) for market, status in self.markets.items())
        return sorted(named, key=lambda item: item[0])
