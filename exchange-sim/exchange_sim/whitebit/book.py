"""One depth subscription as WhiteBIT streams it: a snapshot, then deltas (pure).

The simulator's book around the current price is re-drawn every 100 ms of simulated time
(its "version"); a delta carries the levels of the subscribed top N that changed, with amount
0 for a price that left the book. A price pushed below the top N by others gets no message, as
on WhiteBIT: a client applying deltas holds the server's top N once it cuts its book to N
after each one (WhiteBIT's depth page says to).
Update ids grow with the version but skip values, as WhiteBIT's do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from exchange_sim.candle import units_of
from exchange_sim.whitebit.payloads import Level

VERSION_MS = 100


def version_at(now_ms: int) -> int:
    return now_ms // VERSION_MS


def update_id(version: int) -> int:
    """Strictly increasing in `version`, with gaps of 1 to 4 between neighbours."""
    return version * 4 + (version * 2_654_435_761 >> 11) % 4


def levels_of(raw: object) -> list[Level]:
    """[["42000.10000000", "0.04761904"], ...] -> [(price, amount)] in 1e-8 units."""
    assert isinstance(raw, list)
    return [(units_of(p), units_of(q)) for p, q in raw]


@dataclass(frozen=True, slots=True)
class Delta:
    asks: list[Level]  # ascending price; amount 0 deletes
    bids: list[Level]  # descending price


@dataclass(slots=True)
class LiveBook:
    limit: int
    asks: dict[int, int] = field(default_factory=dict)
    bids: dict[int, int] = field(default_factory=dict)
    version: int = -1
    update_id: int = 0
    started: bool = False

    def load(self, version: int, asks: Sequence[Level], bids: Sequence[Level]) -> None:
        """Take the book of `version` as the one the client holds (after a snapshot)."""
        self.asks, self.bids = dict(asks[: self.limit]), dict(bids[: self.limit])
        self.version, self.update_id, self.started = version, update_id(version), True

    def sorted_asks(self) -> list[Level]:
        return sorted(self.asks.items())

    def sorted_bids(self) -> list[Level]:
        return sorted(self.bids.items(), reverse=True)

    def advance(self, version: int, asks: Sequence[Level], bids: Sequence[Level]) -> Delta:
        """Move to the book of `version` (`asks` and `bids` as deep as the server looks, more
        than the top N): the levels that changed (possibly none). The update
        id moves only when something changed, so each delta's `past_update_id` is the id of
        the message before it."""
        new_asks, new_bids = dict(asks[: self.limit]), dict(bids[: self.limit])
        delta = Delta(
            sorted(_diff(self.asks, new_asks, asks)),
            sorted(_diff(self.bids, new_bids, bids), reverse=True),
        )
        self.asks, self.bids, self.version = new_asks, new_bids, version
        if delta.asks or delta.bids:
            self.update_id = update_id(version)
        return delta


def _diff(old: dict[int, int], new: dict[int, int], deeper: Sequence[Level]) -> list[Level]:
    """What changed in the top N; a price gone from it but still in the book is not sent."""
    below = {p for p, _ in deeper}
    gone = [(p, 0) for p in old if p not in new and p not in below]
    changed = [(p, q) for p, q in new.items() if old.get(p) != q]
    return gone + changed
