"""Request pacing for exchanges that count requests in a sliding window (Bybit, OKX, WhiteBIT;
pure accounting, no I/O). Binance counts weight per wall-clock minute: `weights.WeightBudget`.

A budget sends at most `fraction` of `limit` requests in any `window` seconds and nothing while
the back-off of a rejection is open. The exchange counts a request when it arrives, somewhere
between its sending and its answer, so a request holds its place from the moment it is sent
until `window` seconds after it was answered (`settle`): however late a busy client or network
delivers a burst, no window of the server's ever sees more than the allowance. A request that
never reached the server (connection refused) is `refund`ed. Every method takes `now` (seconds)
so it is testable without a clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# While every place is taken by a request in flight there is no answer to wait for: look again
# after this share of the window.
IN_FLIGHT_POLL = 0.05


@dataclass(eq=False)
class SlidingBudget:
    limit: int
    window: float
    fraction: float = 0.8
    rejections: int = field(default=0, init=False)  # rate-limit answers seen
    blocked_until: float = field(default=0.0, init=False)
    in_flight: int = field(default=0, init=False)
    _answered: deque[float] = field(default_factory=deque, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.window <= 0 or not 0 < self.fraction <= 1:
            raise ValueError("limit and window must be positive and fraction in (0, 1]")

    @property
    def allowance(self) -> int:
        return max(1, int(self.limit * self.fraction))

    @property
    def used(self) -> int:
        """Places taken (as of the last call): requests in flight and answered in the window."""
        return self.in_flight + len(self._answered)

    def delay(self, now: float) -> float:
        """Seconds to wait before the next request; 0 means counted (in flight) and go now."""
        if now < self.blocked_until:
            return self.blocked_until - now
        while self._answered and self._answered[0] <= now - self.window:
            self._answered.popleft()
        if self.used < self.allowance:
            self.in_flight += 1
            return 0.0
        if not self._answered:
            return self.window * IN_FLIGHT_POLL
        # Never 0 here: 0 means "counted, go", and float rounding can make the exact wait 0.
        return max(self._answered[0] + self.window - now, 1e-6)

    def settle(self, now: float) -> None:
        """A request sent through `delay` was answered (or given up) at `now`."""
        self.in_flight = max(0, self.in_flight - 1)
        self._answered.append(now)  # `now` is never before an earlier call's: still in order

    def refund(self) -> None:
        """A request that never reached the server (connection refused) cost nothing."""
        self.in_flight = max(0, self.in_flight - 1)

    def block(self, seconds: float, now: float) -> None:
        """A rate-limit answer: send nothing for `seconds` (at least one)."""
        self.rejections += 1
        self.blocked_until = max(self.blocked_until, now + max(seconds, 1.0))
