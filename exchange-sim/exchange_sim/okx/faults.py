"""Switches of the simulated OKX books channel (consumed per message).

`checksum`: send the real CRC32 in `checksum` instead of OKX's 0 (deprecated since 2026-06).
`skip_next`: the next N updates are computed but not sent, so a client sees a prevSeqId gap.
`bad_checksum_next`: the next N updates carry a wrong, non-zero checksum.
`reset_next`: the next N updates restart the sequence lower (seqId < prevSeqId), as after
OKX maintenance. `quiet`: the book stops changing, so only heartbeats are sent.
Settable in-process (`venue.book.set(...)`) or with `POST /_sim/okx/book`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(slots=True)
class BookSwitches:
    checksum: bool = False
    quiet: bool = False
    skip_next: int = 0
    bad_checksum_next: int = 0
    reset_next: int = 0

    def set(self, **changes: object) -> None:
        """Change some switches; unknown keys or wrong types raise ValueError."""
        kinds = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        for key, value in changes.items():
            kind = kinds.get(key)
            if kind is None:
                raise ValueError(f"unknown switch {key!r}")
            if kind is bool and not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{key} must be a non-negative integer")
            setattr(self, key, value)

    def clear(self) -> None:
        self.set(**asdict(BookSwitches()))

    def take(self, name: str) -> bool:
        """Consume one of a counter; True if it was set."""
        left = getattr(self, name)
        if left:
            setattr(self, name, left - 1)
        return bool(left)

    def snapshot(self) -> dict[str, object]:
        return asdict(self)
