"""Counters the simulator keeps for tests and benchmarks (`sim.stats`, `GET /_sim/stats`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Stats:
    requests: Counter[str] = field(default_factory=Counter)  # REST path -> count
    statuses: Counter[int] = field(default_factory=Counter)  # HTTP status -> count
    klines_served: int = 0
    ws_connections: int = 0  # accepted, ever
    ws_open: int = 0
    ws_refused: int = 0
    ws_messages: int = 0
    ws_dropped: int = 0

    @property
    def rate_limited(self) -> int:
        """Responses with HTTP 429."""
        return self.statuses[429]

    @property
    def bybit_rate_limited(self) -> int:
        """Bybit responses with HTTP 403 (over the per-IP limit, or banned after it)."""
        return self.statuses[403]

    @property
    def banned(self) -> int:
        """Responses with HTTP 418."""
        return self.statuses[418]

    def reset(self) -> None:
        self.requests.clear()
        self.statuses.clear()
        self.klines_served = self.ws_connections = self.ws_refused = 0
        self.ws_messages = self.ws_dropped = 0

    def snapshot(self) -> dict[str, object]:
        return {
            "requests": dict(self.requests),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "rate_limited": self.rate_limited,
            "banned": self.banned,
            "klines_served": self.klines_served,
            "ws_connections": self.ws_connections,
            "ws_open": self.ws_open,
            "ws_refused": self.ws_refused,
            "ws_messages": self.ws_messages,
            "ws_dropped": self.ws_dropped,
        }
