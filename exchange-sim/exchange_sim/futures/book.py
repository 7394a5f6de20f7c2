"""A USDⓈ-M order book that evolves in 100 ms steps, with Binance futures update ids (pure).

The book at any step is computed directly, without replaying history: each price level's
quantity is a hash of (key, price, epoch), and a level's epoch advances every `PERIOD` steps
at a phase fixed by its price. Bids are the `WIDTH` ticks at and below the best bid, asks the
`WIDTH` ticks above it; the best bid follows a price function (the series' live close).
So the diff between two steps touches only the levels whose epoch moved or that entered or
left a side, and applying every diff to a snapshot reproduces the later snapshot exactly.

Update ids: step s ends at `last_id(s)`; an event covering steps (a, b] carries
U = first_id(a + 1), u = last_id(b), pu = last_id(a). first_id skips a few ids after the
previous u now and then, because on futures U need not be pu + 1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from exchange_sim.candle import UNIT

STEP_MS = 100
WIDTH = 1000  # ticks per side, so a 1000-level snapshot is the whole book
PERIOD = 50  # steps between two changes of one level (5 s)
_MULT = 7  # coprime with PERIOD: neighbouring ticks change at different steps
_MULT_INV = pow(_MULT, -1, PERIOD)
IDS_PER_STEP = 40
LOT = 100_000  # quantities are multiples of 0.001
_NOTIONAL = 2_000 * UNIT * UNIT  # about 2000 quote units per level, as the spot book
_MASK = (1 << 64) - 1

Level = tuple[int, int]  # (price, quantity) in 1e-8 units


def _mix(x: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def step_of(ms: int) -> int:
    return ms // STEP_MS


def last_id(step: int, key: int = 0) -> int:
    return step * IDS_PER_STEP + _mix(key ^ step) % (IDS_PER_STEP // 2)


def first_id(step: int, key: int = 0) -> int:
    """First id of a step: one after the previous step's last, or a few more."""
    return last_id(step - 1, key) + 1 + _mix(key ^ ~step & _MASK) % 3


def step_of_id(update_id: int) -> int:
    """The step whose last id is `update_id` (inverse of `last_id`)."""
    return update_id // IDS_PER_STEP


@dataclass(frozen=True, slots=True)
class Diff:
    bids: list[Level]  # absolute quantities; 0 removes the level
    asks: list[Level]


class FuturesBook:
    """The book of one symbol. `best_bid_at(ms)` gives the best bid price in ticks."""

    def __init__(self, seed: int, symbol: str, tick: int, best_bid_at: Callable[[int], int]):
        digest = hashlib.sha256(f"{seed}:{symbol}:fapi-book".encode()).digest()
        self.key = int.from_bytes(digest[:8], "big")
        self.tick = tick
        self._best_bid_at = best_bid_at

    def best_bid(self, step: int) -> int:
        return max(1, self._best_bid_at(step * STEP_MS))

    def last_id(self, step: int) -> int:
        return last_id(step, self.key)

    def first_id(self, step: int) -> int:
        return first_id(step, self.key)

    def qty(self, price: int, step: int) -> int:
        """Quantity a level at `price` ticks would hold at `step` (0: a hole in the book)."""
        epoch = (step + price * _MULT % PERIOD) // PERIOD
        h = _mix(self.key ^ _mix(price * 0x100000001B3 + epoch))
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
        """The levels that differ between step `old` and the later step `new`."""
        b0, b1 = self.best_bid(old), self.best_bid(new)
        lo, hi = min(b0, b1), max(b0, b1)
        span = range(max(1, lo - WIDTH + 1), hi + WIDTH + 1)
        prices: set[int] = set()
        if new - old >= PERIOD or hi - lo >= 2 * WIDTH:
            # Every level of both books may differ; nothing outside them can.
            prices.update(range(max(1, b0 - WIDTH + 1), b0 + WIDTH + 1))
            prices.update(range(max(1, b1 - WIDTH + 1), b1 + WIDTH + 1))
        else:
            for step in range(old + 1, new + 1):
                residue = -step * _MULT_INV % PERIOD
                first = span.start + (residue - span.start) % PERIOD
                prices.update(range(first, span.stop, PERIOD))
        if b0 != b1 and hi - lo < 2 * WIDTH:
            for edge in (lo - WIDTH, lo, lo + WIDTH):
                prices.update(range(max(1, edge + 1), edge + hi - lo + 1))
        bids: list[Level] = []
        asks: list[Level] = []
        for price in sorted(prices):
            was, now = self.bid_qty(price, old, b0), self.bid_qty(price, new, b1)
            if was != now:
                bids.append((price * self.tick, now))
            was, now = self.ask_qty(price, old, b0), self.ask_qty(price, new, b1)
            if was != now:
                asks.append((price * self.tick, now))
        bids.reverse()
        return Diff(bids, asks)
