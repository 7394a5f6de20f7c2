"""OKX's public REST limits: at most N requests per IP and endpoint in any window (pure).

A refused request does not count toward the window, and OKX documents no ban after it:
the client is simply answered 50011 until the window has room again. Refusals are counted
per endpoint so tests can assert that none (or some) happened.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(eq=False)
class EndpointLimiter:
    limits: Mapping[str, int]
    window: float = 2.0
    clock: Callable[[], float] = time.monotonic
    rejected: Counter[str] = field(init=False, default_factory=Counter)  # path -> refusals
    _seen: dict[tuple[str, str], deque[float]] = field(init=False, default_factory=dict)

    def admit(self, client: str, path: str, key: str = "") -> bool:
        """Count one request to `path` (sub-keyed by `key`, e.g. instType); False = refuse."""
        limit = self.limits.get(path)
        if limit is None:
            return True
        now = self.clock()
        seen = self._seen.setdefault((client, f"{path}#{key}"), deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) >= limit:
            self.rejected[path] += 1
            return False
        seen.append(now)
        return True

    @property
    def rejections(self) -> int:
        return sum(self.rejected.values())

    def reset(self) -> None:
        self._seen.clear()
        self.rejected.clear()
