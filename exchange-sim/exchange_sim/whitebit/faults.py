"""Depth-stream faults a client must survive (pure counters, consumed per message).

`skip_delta_next`: the next N depth deltas are not sent (the book still moves), so the
following delta's `past_update_id` names an update the client never saw.
Settable in-process (`venue.faults.set(...)`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(slots=True)
class DepthFaults:
    skip_delta_next: int = 0

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
        self.skip_delta_next = 0

    def take_skip(self) -> bool:
        if self.skip_delta_next:
            self.skip_delta_next -= 1
            return True
        return False

    def snapshot(self) -> dict[str, int]:
        return asdict(self)
