"""Request-weight accounting per client IP, like Binance's REQUEST_WEIGHT limit (pure).

The window is the wall-clock minute. The request that goes over the limit gets 429 with
Retry-After = seconds until the minute ends. Binance bans clients that *repeatedly* fail to
back off: inside a Retry-After window the first `tolerated` requests (those already in flight
when the 429 went out) get 429 again, and any further one gets 418 and a ban that doubles each
time, from `ban_base` up to `ban_max`. Inside a ban every request is a 418.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Verdict:
    status: int  # 200, 429 or 418
    used: int  # weight used in the current window, as sent in X-MBX-USED-WEIGHT-1M
    retry_after: int | None = None


@dataclass(slots=True)
class _Client:
    window: int = -1
    used: int = 0
    blocked_until: float = 0.0
    banned: bool = False  # the block is a ban (418), not a Retry-After window (429)
    strikes: int = 0  # requests received inside the current Retry-After window
    bans: int = 0


@dataclass(eq=False)
class WeightLimiter:
    limit: int = 6000
    _: KW_ONLY
    ban_base: float = 120.0
    ban_max: float = 3 * 86_400.0
    tolerated: int = 0
    clock: Callable[[], float] = time.time
    _clients: dict[str, _Client] = field(init=False, default_factory=dict)

    def charge(self, client: str, weight: int) -> Verdict:
        now = self.clock()
        state = self._clients.setdefault(client, _Client())
        self._roll(state, now)
        if now < state.blocked_until:
            state.strikes += 1
            if not state.banned and state.strikes <= self.tolerated:
                return Verdict(429, state.used, max(1, math.ceil(state.blocked_until - now)))
            state.bans += 1
            ban = min(self.ban_max, self.ban_base * 2 ** (state.bans - 1))
            state.blocked_until, state.banned = now + ban, True
            return Verdict(418, state.used, math.ceil(ban))
        state.used += weight
        if state.used > self.limit:
            return self._block(state, now, self._window_end(now) - now)
        state.bans = 0
        return Verdict(200, state.used)

    def penalize(self, client: str, seconds: float) -> Verdict:
        """A 429 decided elsewhere (fault injection): opens a Retry-After window."""
        now = self.clock()
        state = self._clients.setdefault(client, _Client())
        self._roll(state, now)
        return self._block(state, now, seconds)

    def used(self, client: str) -> int:
        state = self._clients.get(client)
        if state is None:
            return 0
        self._roll(state, self.clock())
        return state.used

    def reset(self) -> None:
        self._clients.clear()

    def _block(self, state: _Client, now: float, seconds: float) -> Verdict:
        retry_after = max(1, math.ceil(seconds))
        if now >= state.blocked_until:  # a new Retry-After window
            state.banned, state.strikes = False, 0
        state.blocked_until = max(state.blocked_until, now + retry_after)
        return Verdict(429, state.used, retry_after)

    def _roll(self, state: _Client, now: float) -> None:
        window = int(now // WINDOW_SECONDS)
        if window != state.window:
            state.window = window
            state.used = 0

    @staticmethod
    def _window_end(now: float) -> float:
        return (now // WINDOW_SECONDS + 1) * WINDOW_SECONDS
