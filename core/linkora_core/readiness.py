"""Readiness checks: what `/ready` answers, with expensive checks cached for about a second.

`/health` keeps its always-200 contract and describes; `/ready` decides (200 or 503) so a load
balancer or an orchestrator can drain a replica whose database, Redis or node is away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# Load balancers poll every second or so; a check is asked of its dependency at most this often.
CHECK_TTL = 1.0


class CachedCheck(Generic[T]):
    """The result of `check()`, reused for `ttl` seconds; concurrent callers share one call."""

    def __init__(self, check: Callable[[], Awaitable[T]], ttl: float = CHECK_TTL) -> None:
        self._check = check
        self._ttl = ttl
        self._value: T | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self) -> T:
        if time.monotonic() - self._at < self._ttl:
            return self._value  # type: ignore[return-value]  # set together with _at
        async with self._lock:
            if time.monotonic() - self._at >= self._ttl:
                self._value = await self._check()
                self._at = time.monotonic()
            return self._value  # type: ignore[return-value]  # set together with _at


def verdict(problems: dict[str, str]) -> tuple[dict[str, object], int]:
    """The `/ready` body and status: 200 `{"ready": true}` or 503 naming every problem."""
    if problems:
        return {"ready": False, "problems": problems}, 503
    return {"ready": True, "problems": {}}, 200
