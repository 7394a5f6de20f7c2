"""A small in-process LRU of rendered response bodies that expire.

Closed candle pages never change in normal operation; their expiry bounds how long a page
stays stale when history is repaired underneath it (a refilled gap). Pages holding the open
bucket are kept for about a second: polling clients then share one computation."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class PageCache:
    def __init__(
        self, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, bytes, dict[str, str]]] = OrderedDict()

    def get(self, key: Hashable) -> tuple[bytes, dict[str, str]] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, body, headers = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return body, headers

    def put(
        self, key: Hashable, body: bytes, headers: dict[str, str], ttl: float | None = None
    ) -> None:
        """Keep a body for `ttl` seconds (default: the cache's own); a ttl <= 0 keeps nothing."""
        ttl = self._ttl if ttl is None else ttl
        if ttl <= 0:
            return
        self._entries[key] = (self._clock() + ttl, body, headers)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
