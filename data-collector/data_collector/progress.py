"""Backfill progress of one market: done/total, rate and ETA (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from linkora_core.markets import Market


@dataclass(slots=True)
class Progress:
    """Counts minutes covered; `rate` is candles per second over the whole run so far."""

    market: Market
    total: int = 0
    done: int = 0
    stored: int = 0  # rows written by this run
    started_at: float = 0.0
    updated_at: float = 0.0
    finished: bool = False
    from_ms: int = 0  # the first minute of the span (START_DATE, the market's own, or listing)
    _recent: list[tuple[float, int]] = field(default_factory=list)

    def start(self, total: int, done: int, now: float) -> None:
        self.total, self.done, self.started_at, self.updated_at = total, done, now, now
        self._recent = [(now, 0)]

    def advance(self, minutes: int, rows: int, now: float) -> None:
        self.done = min(self.total, self.done + minutes)
        self.stored += rows
        self.updated_at = now
        self._recent.append((now, self.stored))
        # The rate follows the last ~30 s so the ETA reacts to pacing and stalls.
        while len(self._recent) > 2 and now - self._recent[1][0] > 30:
            self._recent.pop(0)

    @property
    def rate(self) -> float:
        """Candles stored per second, recently."""
        if len(self._recent) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._recent[0], self._recent[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        remaining = self.total - self.done
        if remaining <= 0:
            return 0.0
        rate = self.rate
        return remaining / rate if rate > 0 else None

    def describe(self) -> str:
        eta = self.eta_seconds
        eta_text = "unknown" if eta is None else f"{eta:.0f}s"
        share = 100 * self.done / self.total if self.total else 100.0
        return (
            f"{self.market}: {self.done}/{self.total} minutes ({share:.1f}%), "
            f"{self.rate:.0f} candles/s, ETA {eta_text}"
        )
