"""One order-book subscription as Bybit streams it: a snapshot, then deltas (pure).

The book follows a target (the simulator's book around the current price, re-drawn each
second); between targets a few sizes change. A delta is the difference between the book the
client holds and the new one, so size "0" only ever deletes a price the client has.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from exchange_sim.bybit.payloads import Level
from exchange_sim.candle import units_of


@dataclass(frozen=True, slots=True)
class Update:
    kind: str  # "snapshot" or "delta"
    bids: list[Level]  # best first; sizes are absolute, 0 = delete
    asks: list[Level]
    u: int
    seq: int


def levels_of(raw: object) -> list[Level]:
    """[["42000.10000000", "0.04761904"], ...] -> [(price, size)] in 1e-8 units."""
    assert isinstance(raw, list)
    return [(units_of(p), units_of(q)) for p, q in raw]


class LiveBook:
    def __init__(self, seed: str, first_u: int, first_seq: int) -> None:
        self._rng = random.Random(seed)
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.u = first_u - 1
        self.seq = first_seq
        self.started = False

    def snapshot(
        self, bids: Sequence[Level], asks: Sequence[Level], restart: bool = False
    ) -> Update:
        """Replace the book; `restart` numbers it u = 1 as after a service restart."""
        self.bids, self.asks = dict(bids), dict(asks)
        self.u = 1 if restart else self.u + 1
        self.started = True
        return self._update(
            "snapshot", sorted(self.bids.items(), reverse=True), sorted(self.asks.items())
        )

    def delta(
        self, target: tuple[Sequence[Level], Sequence[Level]] | None, skip: bool = False
    ) -> Update:
        """Move to `target` (or, if None, change a few sizes); `skip` leaves out one `u`."""
        if target is None:
            new_bids, new_asks = self._jiggle(self.bids), self._jiggle(self.asks)
        else:
            new_bids, new_asks = dict(target[0]), dict(target[1])
        bids = _diff(self.bids, new_bids)
        asks = _diff(self.asks, new_asks)
        self.bids, self.asks = new_bids, new_asks
        self.u += 2 if skip else 1
        return self._update("delta", sorted(bids, reverse=True), sorted(asks))

    def whole(self, update: Update) -> Update:
        """The book after `update`, as a snapshot with the same `u` and `seq`."""
        bids, asks = sorted(self.bids.items(), reverse=True), sorted(self.asks.items())
        return Update("snapshot", bids, asks, update.u, update.seq)

    def _jiggle(self, side: dict[int, int]) -> dict[int, int]:
        out = dict(side)
        if not out:
            return out
        prices = sorted(out)
        for _ in range(self._rng.randrange(1, 4)):
            price = prices[self._rng.randrange(len(prices))]
            size = max(1, out[price] * self._rng.randrange(50, 151) // 100)
            out[price] = size if size != out[price] else size + 1
        return out

    def _update(self, kind: str, bids: list[Level], asks: list[Level]) -> Update:
        self.seq += self._rng.randrange(1, 60)
        return Update(kind, bids, asks, self.u, self.seq)


def _diff(old: dict[int, int], new: dict[int, int]) -> list[Level]:
    changes = [(p, 0) for p in old if p not in new]
    changes.extend((p, q) for p, q in new.items() if old.get(p) != q)
    return changes
