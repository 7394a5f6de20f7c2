"""Order-book stream faults a client must survive (pure counters, consumed per message).

`skip_u_next`: the next N deltas each jump `u` by 2, so one update id is missing.
`restart_next`: the next N pushes are snapshots with `u` = 1, as after a service restart.
Settable in-process (`sim.bybit.faults.set(...)`) or with `POST /_sim/bybit/faults`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(slots=True)
class BookFaults:
    skip_u_next: int = 0
    restart_next: int = 0

    def set(self, **changes: object) -> None:
        """Change some counters; unknown keys or values that are not counts raise ValueError."""
        known = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault {key!r}")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be a non-negative integer")
            setattr(self, key, value)

    def clear(self) -> None:
        self.skip_u_next = self.restart_next = 0

    def take_skip(self) -> bool:
        if self.skip_u_next:
            self.skip_u_next -= 1
            return True
        return False

    def take_restart(self) -> bool:
        if self.restart_next:
            self.restart_next -= 1
            return True
        return False

    def snapshot(self) -> dict[str, int]:
        return asdict(self)
