"""An order book that evolves in 100 ms steps, with Binance update ids (pure), shared by the
spot and USDⓈ-M simulators.

The book at any step is computed directly, without replaying history: each price level's
quantity is a hash of (key, price, epoch), and a level's epoch advances every `PERIOD` steps
at a phase fixed by its price. Bids are the `WIDTH` ticks at and below the best bid, asks the
`WIDTH` ticks above it; the best bid follows a price function (the series' live close).
So the diff over steps (a, b] lists only the levels whose epoch moved or that entered or left
a side in between, each with its quantity at b, and applying it to the snapshot of any step in
[a, b] gives the snapshot of b exactly (as a Binance diff event lists every level updated in
its interval with the final quantity).

Update ids: step s ends at `last_id(s)`; an event covering steps (a, b] carries
U = first_id(a + 1), u = last_id(b). On spot U is always the previous step's u + 1; the
futures book (futures/book.py) skips a few ids now and then, carrying pu = last_id(a).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from exchange_sim.candle import UNIT

STEP_MS = 100
WIDTH = 1000  # ticks per side, so a 1000-level snapshot is the whole book
PERIOD = 50  # steps between two changes of one level (5 s)
_MULT = 7  # coprime with PERIOD: neighbouring ticks change at different steps
_MULT_INV = pow(_MULT, -1, PERIOD)
IDS_PER_STEP = 40
LOT = 100_000  # quantities are multiples of 0.001
_NOTIONAL = 2_000 * UNIT * UNIT  # about 2000 quote units per level
MASK = (1 << 64) - 1
# Diffs longer than this sample the best bid at this many steps rather than at every one.
_BEST_SAMPLES = 600

Level = tuple[int, int]  # (price, quantity) in 1e-8 units


def mix(x: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def step_of(ms: int) -> int:
    return ms // STEP_MS


def last_id(step: int, key: int = 0) -> int:
    return step * IDS_PER_STEP + mix(key ^ step) % (IDS_PER_STEP // 2)


def step_of_id(update_id: int) -> int:
    """The step whose last id is `update_id` (inverse of `last_id`)."""
    return update_id // IDS_PER_STEP


@dataclass(frozen=True, slots=True)
class Diff:
    bids: list[Level]  # absolute quantities; 0 removes the level
    asks: list[Level]


class SteppedBook:
    """The book of one symbol. `best_bid_at(ms)` gives the best bid price in ticks."""

    SALT: ClassVar[str] = "spot-book"  # a venue's own books differ from another's

    def __init__(self, seed: int, symbol: str, tick: int, best_bid_at: Callable[[int], int]):
        digest = hashlib.sha256(f"{seed}:{symbol}:{self.SALT}".encode()).digest()
        self.key = int.from_bytes(digest[:8], "big")
        self.tick = tick
        self._best_bid_at = best_bid_at

    def best_bid(self, step: int) -> int:
        return max(1, self._best_bid_at(step * STEP_MS))

    def last_id(self, step: int) -> int:
        return last_id(step, self.key)

    def first_id(self, step: int) -> int:
        """First id of a step: one after the previous step's last."""
        return last_id(step - 1, self.key) + 1

    def qty(self, price: int, step: int) -> int:
        """Quantity a level at `price` ticks would hold at `step` (0: a hole in the book)."""
        epoch = (step + price * _MULT % PERIOD) // PERIOD
        h = mix(self.key ^ mix(price * 0x100000001B3 + epoch))
        if h % 10 == 0:
            return 0
        units = _NOTIONAL // (price * self.tick) * (1 + h % 199) // 100 // LOT * LOT
        return max(LOT, units)

    def bid_qty(self, price: int, step: int, best: int) -> int:
        return self.qty(price, step) if best - WIDTH < price <= best else 0

    def ask_qty(self, price: int, step: int, best: int) -> int:
        return self.qty(price, step) if best < price <= best + WIDTH else 0

    def snapshot(self, step: int, limit: int) -> Diff:
        """The best `limit` levels a side, bids falling and asks rising."""
        best = self.best_bid(step)
        bids: list[Level] = []
        for price in range(best, max(0, best - WIDTH), -1):
            if len(bids) == limit:
                break
            if q := self.qty(price, step):
                bids.append((price * self.tick, q))
        asks: list[Level] = []
        for price in range(best + 1, best + WIDTH + 1):
            if len(asks) == limit:
                break
            if q := self.qty(price, step):
                asks.append((price * self.tick, q))
        return Diff(bids, asks)

    def diff(self, old: int, new: int) -> Diff:
        """The levels updated in steps (old, new], with their quantities at `new`."""
        stride = max(1, (new - old) // _BEST_SAMPLES)
        bests = [self.best_bid(s) for s in (*range(old, new, stride), new)]
        lo, hi, best = min(bests), max(bests), bests[-1]
        prices: set[int] = set()
        for start, stop in _windows(bests):
            if new - old >= PERIOD:
                prices.update(range(start, stop))  # every level may have changed
                continue
            for step in range(old + 1, new + 1):
                residue = -step * _MULT_INV % PERIOD
                prices.update(range(start + (residue - start) % PERIOD, stop, PERIOD))
        if lo != hi:  # levels that changed side, or entered or left the book, on the way
            for edge in (lo - WIDTH, lo, lo + WIDTH):
                prices.update(range(max(1, edge + 1), edge + hi - lo + 1))
        bids: list[Level] = []
        asks: list[Level] = []
        for price in sorted(prices):
            if lo - WIDTH < price <= hi:
                bids.append((price * self.tick, self.bid_qty(price, new, best)))
            if lo < price <= hi + WIDTH:
                asks.append((price * self.tick, self.ask_qty(price, new, best)))
        bids.reverse()
        return Diff(bids, asks)


def _windows(bests: list[int]) -> list[tuple[int, int]]:
    """The price ranges [start, stop) some book of these best bids covers, merged."""
    merged: list[tuple[int, int]] = []
    for best in sorted(set(bests)):
        start, stop = max(1, best - WIDTH + 1), best + WIDTH + 1
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged
