"""Bybit's HTTP limit per IP: at most `limit` requests in any `window` seconds (pure).

A request over the limit is refused and the IP is banned for `ban_seconds` (Bybit says to
stop for at least 10 minutes); refused requests do not count toward the window.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field


@dataclass(eq=False)
class IpLimiter:
    limit: int = 600
    window: float = 5.0
    _: KW_ONLY
    ban_seconds: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(init=False, default_factory=dict)
    _banned_until: dict[str, float] = field(init=False, default_factory=dict)

    def admit(self, client: str) -> bool:
        """Count one request; False if it must be refused."""
        now = self.clock()
        if now < self._banned_until.get(client, 0.0):
            return False
        seen = self._seen.setdefault(client, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            self._banned_until[client] = now + self.ban_seconds
            return False
        seen.append(now)
        return True

    def used(self, client: str) -> int:
        now = self.clock()
        return sum(1 for t in self._seen.get(client, ()) if t > now - self.window)

    def reset(self) -> None:
        self._seen.clear()
        self._banned_until.clear()
