"""WhiteBIT's REST limits: per IP and endpoint, at most N requests in any 10 s (pure).

Documented figures: kline 1000 / 10 s, order book 600 / 10 s, the other public v4 calls
2000 / 10 s. Over the limit the request gets HTTP 429 and is not counted in the window;
WhiteBIT documents no ban, no Retry-After and no usage headers, so none are sent.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

KLINE = "kline"
ORDERBOOK = "orderbook"
PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class Limits:
    kline: int = 1000
    orderbook: int = 600
    public: int = 2000
    window: float = 10.0

    def of(self, group: str) -> int:
        return {KLINE: self.kline, ORDERBOOK: self.orderbook}.get(group, self.public)


@dataclass(eq=False)
class EndpointLimiter:
    limits: Limits = field(default_factory=Limits)
    _: KW_ONLY
    clock: Callable[[], float] = time.monotonic
    rejected: Counter[str] = field(init=False, default_factory=Counter)  # group -> 429s
    _seen: dict[tuple[str, str], deque[float]] = field(init=False, default_factory=dict)

    def admit(self, client: str, group: str) -> bool:
        """Count one request of `group`; False (and counted as rejected) if over the limit."""
        now = self.clock()
        seen = self._seen.setdefault((client, group), deque())
        while seen and seen[0] <= now - self.limits.window:
            seen.popleft()
        if len(seen) >= self.limits.of(group):
            self.rejected[group] += 1
            return False
        seen.append(now)
        return True

    def used(self, client: str, group: str) -> int:
        now = self.clock()
        seen = self._seen.get((client, group), ())
        return sum(1 for t in seen if t > now - self.limits.window)

    def reset(self) -> None:
        self._seen.clear()
        self.rejected.clear()
