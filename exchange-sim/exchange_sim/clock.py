"""The simulator's notion of "now": wall time, optionally shifted and sped up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field


@dataclass(eq=False)
class SimClock:
    """Milliseconds since the epoch. `speed` > 1 makes simulated minutes pass faster.

    Tests use `set()` to jump just before a minute boundary and `speed` to cross several
    boundaries in a fraction of a second.
    """

    origin_ms: InitVar[int | None] = None
    speed: float = 1.0
    wall: Callable[[], float] = time.time
    _real0: float = field(init=False)
    _sim0: float = field(init=False)

    def __post_init__(self, origin_ms: int | None) -> None:
        self._real0 = self.wall()
        self._sim0 = self._real0 * 1000 if origin_ms is None else float(origin_ms)

    def now_ms(self) -> int:
        return int(self._sim0 + (self.wall() - self._real0) * 1000 * self.speed)

    def set(self, ms: int) -> None:
        self._real0 = self.wall()
        self._sim0 = float(ms)

    def real_seconds(self, sim_ms: int) -> float:
        """Real seconds it takes for `sim_ms` simulated milliseconds to pass."""
        return sim_ms / 1000 / self.speed
