"""One request-weight budget shared by every REST call (pure accounting, no I/O).

Binance counts REQUEST_WEIGHT per IP in fixed wall-clock minutes and reports the running
total in `X-MBX-USED-WEIGHT-1M`. The budget reserves weight before a request is sent, so
requests in flight count too, adopts the server's figure when it is higher (other clients
on the same IP), and refuses everything while a Retry-After window from a 429/418 is open.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WINDOW_SECONDS = 60.0
# Sent a little after the window turns over, in case our clock runs ahead of the server's.
ROLLOVER_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The REQUEST_WEIGHT entry of exchangeInfo's `rateLimits`."""

    limit: int
    window_seconds: float = WINDOW_SECONDS


def request_weight_limit(exchange_info: object) -> RateLimit | None:
    """The REQUEST_WEIGHT limit from an exchangeInfo body, e.g.

    `{"rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
    "intervalNum": 1, "limit": 6000}, ...], ...}` -> RateLimit(6000, 60.0).
    """
    if not isinstance(exchange_info, dict):
        return None
    units = {"SECOND": 1.0, "MINUTE": 60.0, "HOUR": 3600.0, "DAY": 86400.0}
    for entry in exchange_info.get("rateLimits") or ():
        if not isinstance(entry, dict) or entry.get("rateLimitType") != "REQUEST_WEIGHT":
            continue
        limit, interval = entry.get("limit"), units.get(str(entry.get("interval")))
        count = entry.get("intervalNum", 1)
        if not (isinstance(limit, int) and isinstance(count, int) and interval):
            continue
        if limit > 0 and interval * count == WINDOW_SECONDS:
            return RateLimit(limit, WINDOW_SECONDS)
    return None


@dataclass(eq=False)
class WeightBudget:
    """Spend at most `fraction` of `limit` per minute; wait out Retry-After windows.

    Every method takes `now` (epoch seconds) so the accounting is testable without a clock.
    """

    limit: int = 6000
    fraction: float = 0.8
    used: int = field(default=0, init=False)
    blocked_until: float = field(default=0.0, init=False)
    rejections: int = field(default=0, init=False)  # 429/418 answers seen
    _window: int = field(default=-1, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.limit <= 0 or not 0 < self.fraction <= 1:
            raise ValueError("limit must be positive and fraction in (0, 1]")

    @property
    def allowance(self) -> int:
        return max(1, int(self.limit * self.fraction))

    def set_limit(self, limit: int) -> None:
        if limit > 0:
            self.limit = limit

    def window_of(self, now: float) -> int:
        return int(now // WINDOW_SECONDS)

    def delay(self, weight: int, now: float) -> float:
        """Seconds to wait before `weight` may be sent; 0 means reserved and go now."""
        if now < self.blocked_until:
            return self.blocked_until - now
        self._roll(now)
        if self.used + weight <= self.allowance or (self.used == 0 and weight > self.allowance):
            self.used += weight
            return 0.0
        return (self._window + 1) * WINDOW_SECONDS - now + ROLLOVER_MARGIN

    def observe(self, used: int, sent_at: float, now: float) -> None:
        """Adopt the server's `X-MBX-USED-WEIGHT-1M` when it is ahead of our own count.

        Only figures from requests sent in the current window are comparable.
        """
        self._roll(now)
        if self.window_of(sent_at) == self._window and used > self.used:
            self.used = used

    def refund(self, weight: int, sent_at: float, now: float) -> None:
        """A request that never reached the server (connection refused) cost nothing."""
        self._roll(now)
        if self.window_of(sent_at) == self._window:
            self.used = max(0, self.used - weight)

    def block(self, retry_after: float, now: float) -> None:
        """A 429 or 418: send nothing until `retry_after` seconds from now."""
        self.rejections += 1
        self.blocked_until = max(self.blocked_until, now + max(retry_after, 1.0))

    def _roll(self, now: float) -> None:
        window = self.window_of(now)
        if window != self._window:
            self._window = window
            self.used = 0
