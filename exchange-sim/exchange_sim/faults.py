"""Injected failures: what the next REST request, WebSocket upgrade or diff-depth event should
suffer (pure).

Settable at start (`SimConfig.faults`), in-process (`sim.faults.set(...)`) or over HTTP
(`POST /_sim/faults` with the same keys as JSON).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import InitVar, asdict, dataclass, field, fields


@dataclass(slots=True)
class FaultSettings:
    error_rate: float = 0.0  # share of REST responses replaced by a 5xx
    error_next: int = 0  # the next N REST responses are 5xx
    error_statuses: tuple[int, ...] = (500, 502, 503)
    stall_seconds: float = 0.0  # delay before answering a stalled request
    stall_rate: float = 0.0
    stall_next: int = 0
    force_429_next: int = 0  # the next N REST requests get 429 (and open a Retry-After window)
    retry_after_seconds: int = 1  # Retry-After of forced 429s
    refuse_ws_seconds: float = 0.0  # refuse WebSocket upgrades for this long from now
    skip_diff_next: int = 0  # the next N diff-depth events are not sent (their ids are used up)


@dataclass(frozen=True, slots=True)
class RestFault:
    stall: float = 0.0
    status: int | None = None  # a 5xx to answer instead of the real response
    force_429: bool = False


NONE = RestFault()


@dataclass(eq=False)
class Faults:
    initial: InitVar[FaultSettings | None] = None
    seed: InitVar[int] = 0
    clock: Callable[[], float] = time.monotonic
    settings: FaultSettings = field(init=False, default_factory=FaultSettings)
    _rng: random.Random = field(init=False)
    _refuse_until: float = field(init=False, default=0.0)

    def __post_init__(self, initial: FaultSettings | None, seed: int) -> None:
        self._rng = random.Random(f"faults:{seed}")
        self.set(**asdict(initial or FaultSettings()))

    def set(self, **changes: object) -> None:
        """Change some settings; unknown keys or wrong types raise ValueError."""
        known = {f.name: f for f in fields(FaultSettings)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault {key!r}")
            current = getattr(self.settings, key)
            if isinstance(current, tuple):
                if not isinstance(value, list | tuple) or not all(
                    isinstance(s, int) and 500 <= s <= 599 for s in value
                ):
                    raise ValueError(f"{key} must be a list of 5xx statuses")
                value = tuple(value)
            elif isinstance(current, float):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{key} must be a non-negative number")
                value = float(value)
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be a non-negative integer")
            setattr(self.settings, key, value)
            if key == "refuse_ws_seconds":
                self._refuse_until = self.clock() + float(value)  # type: ignore[arg-type]

    def update(self, changes: Mapping[str, object]) -> None:
        self.set(**changes)

    def clear(self) -> None:
        self.set(**asdict(FaultSettings()))

    def next_rest(self) -> RestFault:
        """Decide (and consume) the faults of one REST request."""
        s = self.settings
        if (
            s.error_rate == 0
            and not s.error_next
            and not s.stall_next
            and s.stall_rate == 0
            and not s.force_429_next
        ):
            return NONE
        stall = 0.0
        if s.stall_next:
            s.stall_next -= 1
            stall = s.stall_seconds
        elif s.stall_rate and self._rng.random() < s.stall_rate:
            stall = s.stall_seconds
        if s.force_429_next:
            s.force_429_next -= 1
            return RestFault(stall=stall, force_429=True)
        status = None
        if s.error_next:
            s.error_next -= 1
            status = self._rng.choice(s.error_statuses)
        elif s.error_rate and self._rng.random() < s.error_rate:
            status = self._rng.choice(s.error_statuses)
        return RestFault(stall=stall, status=status)

    def skip_diff(self) -> bool:
        """Whether to drop (and count off) this diff-depth event."""
        if not self.settings.skip_diff_next:
            return False
        self.settings.skip_diff_next -= 1
        return True

    def ws_refused(self) -> bool:
        return self.clock() < self._refuse_until

    def snapshot(self) -> dict[str, object]:
        out = asdict(self.settings)
        out["refuse_ws_remaining"] = max(0.0, self._refuse_until - self.clock())
        return out
