"""Request pacing for exchanges that count requests in a sliding window (Bybit, OKX, WhiteBIT;
pure accounting, no I/O). Binance counts weight per wall-clock minute: `weights.WeightBudget`.

A budget sends at most `fraction` of `limit` requests in any `window` seconds, counting
requests as they are sent (so those in flight count too), and sends nothing while the back-off
of a rejection is open. Every method takes `now` (seconds) so it is testable without a clock.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field


@dataclass(eq=False)
class SlidingBudget:
    limit: int
    window: float
    fraction: float = 0.8
    rejections: int = field(default=0, init=False)  # rate-limit answers seen
    blocked_until: float = field(default=0.0, init=False)
    _sent: deque[float] = field(default_factory=deque, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.window <= 0 or not 0 < self.fraction <= 1:
            raise ValueError("limit and window must be positive and fraction in (0, 1]")

    @property
    def allowance(self) -> int:
        return max(1, int(self.limit * self.fraction))

    @property
    def used(self) -> int:
        """Requests sent in the last window (as of the last call)."""
        return len(self._sent)

    def delay(self, now: float) -> float:
        """Seconds to wait before the next request; 0 means counted and go now."""
        if now < self.blocked_until:
            return self.blocked_until - now
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        if len(self._sent) < self.allowance:
            self._sent.append(now)
            return 0.0
        # Never 0 here: 0 means "counted, go", and float rounding can make the exact wait 0.
        return max(self._sent[0] + self.window - now, 1e-6)

    def refund(self, sent_at: float) -> None:
        """A request that never reached the server (connection refused) cost nothing."""
        with contextlib.suppress(ValueError):  # already out of the window
            self._sent.remove(sent_at)

    def block(self, seconds: float, now: float) -> None:
        """A rate-limit answer: send nothing for `seconds` (at least one)."""
        self.rejections += 1
        self.blocked_until = max(self.blocked_until, now + max(seconds, 1.0))
