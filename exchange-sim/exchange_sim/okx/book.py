"""One instrument's order book as OKX's books channel streams it (pure).

The book follows a target (the simulator's book around the current price, re-drawn each
simulated second); between targets a few sizes change. An update carries only the levels
that changed, with size 0 for a price that left the book. Each update moves `seqId` on by
a varying step; `prevSeqId` is the seqId of the message before it. The checksum is OKX's
CRC32 of the top 25 levels of each side, interleaved, as a signed 32-bit integer.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence

from exchange_sim.candle import units_of

Level = tuple[int, int]  # (price, size) in 1e-8 units
CHECKSUM_LEVELS = 25


class LiveBook:
    def __init__(self, seed: str, first_seq: int) -> None:
        self._rng = random.Random(seed)
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.seq = first_seq

    def load(self, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        self.bids, self.asks = dict(bids), dict(asks)

    def step(
        self, target: tuple[Sequence[Level], Sequence[Level]] | None
    ) -> tuple[list[Level], list[Level]]:
        """Move to `target` (None: change a few sizes); the changed (bids, asks), best first."""
        if target is None:
            new_bids, new_asks = self._jiggle(self.bids), self._jiggle(self.asks)
        else:
            new_bids, new_asks = dict(target[0]), dict(target[1])
        bids, asks = _diff(self.bids, new_bids), _diff(self.asks, new_asks)
        self.bids, self.asks = new_bids, new_asks
        return sorted(bids, reverse=True), sorted(asks)

    def advance(self, reset: bool = False) -> tuple[int, int]:
        """(prevSeqId, seqId) of the next update; `reset` restarts lower, as OKX may after
        maintenance."""
        prev = self.seq
        if reset:
            self.seq = self._rng.randrange(0, max(1, prev))
        else:
            self.seq += self._rng.randrange(1, 40)
        return prev, self.seq

    def top(self, depth: int) -> tuple[list[Level], list[Level]]:
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return bids, asks

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


def levels_of(raw: object) -> list[Level]:
    """The simulator's [["42000.10000000", "0.04761904"], ...] as (price, size) units."""
    assert isinstance(raw, list)
    return [(units_of(p), units_of(q)) for p, q in raw]


def checksum(bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> int:
    """OKX's book checksum from levels as sent ([price, size, ...] strings, best first):
    "bid1px:bid1sz:ask1px:ask1sz:bid2px:..." over 25 levels a side (a shorter side just
    ends early), CRC32 as a signed 32-bit integer. The docs' check string
    "3366.1:7:3366.8:9:3366:6:3368:8" gives -1881014294."""
    parts: list[str] = []
    for i in range(CHECKSUM_LEVELS):
        if i < len(bids):
            parts += (bids[i][0], bids[i][1])
        if i < len(asks):
            parts += (asks[i][0], asks[i][1])
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _diff(old: dict[int, int], new: dict[int, int]) -> list[Level]:
    changes = [(p, 0) for p in old if p not in new]
    changes.extend((p, q) for p, q in new.items() if old.get(p) != q)
    return changes
