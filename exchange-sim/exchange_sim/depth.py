"""Order book snapshots around a price (pure): deterministic for (seed, symbol, update id)."""

from __future__ import annotations

import random

from exchange_sim.candle import UNIT, decimal_str

MAX_LIMIT = 5000
LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)


# Binance's documented weight of GET /api/v3/depth: (largest limit, weight); 250 above them.
# Written from Binance's table, not shared with the collector's copy, so a mistake in one is
# caught by the tests that run the other.
_WEIGHTS = ((100, 5), (500, 25), (1000, 50))


def weight(limit: int) -> int:
    return next((cost for largest, cost in _WEIGHTS if limit <= largest), 250)


def book(
    *, seed: int, symbol: str, update_id: int, mid: int, tick: int, levels: int
) -> dict[str, object]:
    """`{"lastUpdateId", "bids", "asks"}` with `levels` price levels a side.

    `mid` and `tick` are in 1e-8 units; bids start one tick below mid, asks at mid + tick.
    """
    rng = random.Random(f"{seed}:{symbol}:book:{update_id}")
    best_bid = max(tick, mid - mid % tick)
    bids: list[list[str]] = []
    asks: list[list[str]] = []
    bid, ask = best_bid, best_bid + tick
    notional = 2_000 * UNIT * UNIT  # about 2000 quote units per level
    for _ in range(levels):
        bid -= tick * rng.randrange(0, 3)
        ask += tick * rng.randrange(0, 3)
        if bid > 0:
            qty = notional // bid * rng.randrange(1, 200) // 100
            bids.append([decimal_str(bid), decimal_str(max(1, qty))])
        qty = notional // ask * rng.randrange(1, 200) // 100
        asks.append([decimal_str(ask), decimal_str(max(1, qty))])
        bid -= tick
        ask += tick
    return {"lastUpdateId": update_id, "bids": bids, "asks": asks}
