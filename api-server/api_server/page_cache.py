"""A small in-process LRU of rendered response bodies that expire, bounded by bytes.

Closed candle pages never change in normal operation; their expiry bounds how long a page
stays stale when history is repaired underneath it (a refilled gap). Pages holding the open
bucket are kept for about a second: polling clients then share one computation. A page of
5,000 candles is ~1.8 MB and every chart load asks for a different one, so the bound is the
bytes kept, not the number of pages; expired pages are swept out about once a second."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

SWEEP_INTERVAL = 1.0


class PageCache:
    # Bytes an entry costs beyond its body and headers (key, tuples, dict slot), roughly.
    OVERHEAD = 100

    def __init__(
        self, ttl: float, max_bytes: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max = max_bytes
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, bytes, dict[str, str], int]] = (
            OrderedDict()
        )
        self._next_sweep = float("-inf")
        self.size = 0  # bytes kept, as counted by `_cost`

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> tuple[bytes, dict[str, str]] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, body, headers, _ = entry
        if self._clock() >= expires:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return body, headers

    def put(
        self, key: Hashable, body: bytes, headers: dict[str, str], ttl: float | None = None
    ) -> None:
        """Keep a body for `ttl` seconds (default: the cache's own); a ttl <= 0 keeps nothing,
        nor does a page larger than the whole cache."""
        ttl = self._ttl if ttl is None else ttl
        self._drop(key)
        cost = _cost(body, headers)
        if ttl <= 0 or cost > self._max:
            return
        now = self._clock()
        self._sweep(now)
        self._entries[key] = (now + ttl, body, headers, cost)
        self.size += cost
        while self.size > self._max:
            _, (_, _, _, evicted) = self._entries.popitem(last=False)
            self.size -= evicted

    def clear(self) -> None:
        self._entries.clear()
        self.size = 0

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= entry[3]

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL
        for key in [key for key, entry in self._entries.items() if entry[0] <= now]:
            self._drop(key)


def _cost(body: bytes, headers: dict[str, str]) -> int:
    return len(body) + sum(len(k) + len(v) for k, v in headers.items()) + PageCache.OVERHEAD
