"""The one retry policy: a delay that grows after each failure, capped, with jitter, and a
wait that ends early when the service is stopping.

A module names its policy once as a `RetryPolicy` constant (Backoff itself is stateful, so
each loop takes its own from it):

    RECONNECT = RetryPolicy(first=0.5, cap=5.0)

    backoff = RECONNECT.backoff()
    while not stop.is_set():
        try:
            await work()
        except REDIS_DOWN:
            if not await backoff.wait(stop):
                return
        else:
            backoff.reset()
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays `first`, 2x`first`, ... up to `cap` seconds, each spread by +/-`jitter` (a
    fraction) so that clients failing together do not retry together."""

    first: float = 0.5
    cap: float = 15.0
    factor: float = 2.0
    jitter: float = 0.1
    _next: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.cap:
            raise ValueError(f"backoff needs 0 < first <= cap, got {self.first} and {self.cap}")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("backoff needs factor >= 1 and 0 <= jitter < 1")
        self._next = self.first

    @property
    def upcoming(self) -> float:
        """The delay the next failure will wait, before jitter."""
        return self._next

    def reset(self) -> None:
        """After a success: the next failure waits `first` again."""
        self._next = self.first

    def next_delay(self) -> float:
        """The delay to wait for this failure; the one after grows toward `cap`."""
        delay = self._next
        self._next = min(self._next * self.factor, self.cap)
        if self.jitter:
            delay *= 1 + random.uniform(-self.jitter, self.jitter)
        return delay

    async def wait(self, stop: asyncio.Event | None = None) -> bool:
        """Sleep this failure's delay; False (at once) when `stop` is set meanwhile."""
        return await pause(self.next_delay(), stop)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A retry policy as a value: where the delay starts, where it stops growing, how it is
    spread. `backoff()` makes the stateful `Backoff` one loop uses."""

    first: float
    cap: float
    factor: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        self.backoff()  # a policy that cannot work fails where it is named, at import

    def backoff(self) -> Backoff:
        return Backoff(first=self.first, cap=self.cap, factor=self.factor, jitter=self.jitter)


async def pause(seconds: float, stop: asyncio.Event | None = None) -> bool:
    """Sleep `seconds`, ending early when `stop` is set: True when the time ran out, False
    when the service is stopping."""
    if stop is None:
        await asyncio.sleep(seconds)
        return True
    if stop.is_set():
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return not stop.is_set()
