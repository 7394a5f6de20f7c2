"""Settings of the simulated OKX venue: per-endpoint request limits and stream timings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

# Requests per IP in any 2-s window, from each endpoint's section of the OKX v5 docs
# (instruments is keyed by IP and instType).
DOCUMENTED_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "/api/v5/public/time": 10,
        "/api/v5/public/instruments": 20,
        "/api/v5/market/candles": 40,
        "/api/v5/market/history-candles": 20,
        "/api/v5/market/books": 40,
    }
)


@dataclass(frozen=True, slots=True)
class OkxSettings:
    limits: Mapping[str, int] = field(default_factory=lambda: dict(DOCUMENTED_LIMITS))
    window_seconds: float = 2.0
    book_push_interval: float = 0.1  # the books channel sends diffs every 100 ms
    candle_push_interval: float = 1.0  # candle channels push at most once a second
    heartbeat_seconds: float = 60.0  # books: an empty update after this long unchanged
    idle_seconds: float = 30.0  # a connection with no traffic either way is closed
    book_depth: int = 400  # levels a side in a books snapshot
    candles_reach: int = 1440  # bars /market/candles reaches back

    def limited(self, **per_path: int) -> OkxSettings:
        """A copy with some limits changed; keys are the last path part ("candles")."""
        limits = dict(self.limits)
        for name, value in per_path.items():
            path = next(p for p in limits if p.rsplit("/", 1)[1] == name.replace("_", "-"))
            limits[path] = value
        return replace(self, limits=limits)
