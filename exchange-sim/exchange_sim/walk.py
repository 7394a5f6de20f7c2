"""Seeded random-walk minutes, one UTC day at a time (pure).

A day is generated from its own RNG, so any day can be produced without the ones before
it. Its first open and last close are fixed by a coarse daily walk of "anchors", and the
minute walk in between is bent linearly (a discrete Brownian bridge) to meet them, so the
days join up. Prices are integer ticks; a tick is 10**-decimals in quote units.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from itertools import accumulate
from statistics import NormalDist

from exchange_sim.candle import UNIT, Candle
from exchange_sim.intervals import DAY_MS, MINUTE_MS

MINUTES = 1440
_TABLE_BITS = 12
# Standard normal quantiles x1000 for 4096 equal-probability cells: one random integer
# picks a normal step without float math in the loop.
_NORMAL = tuple(
    round(NormalDist().inv_cdf((i + 0.5) / (1 << _TABLE_BITS)) * 1000)
    for i in range(1 << _TABLE_BITS)
)


@dataclass(frozen=True, slots=True)
class WalkParams:
    seed: int
    symbol: str
    origin_day: int  # days since the epoch of the first generated day
    decimals: int  # price tick = 10**-decimals
    start_ticks: int  # open of the first minute
    minute_sigma_ppm: int = 600  # typical one-minute move, parts per million of the price
    daily_sigma_ppm: int = 25_000
    zero_trade_ppm: int = 2_000  # share of minutes with no trades (O=H=L=C=previous close)
    gap_hour_ppm: int = 0  # share of hours the exchange lacks entirely
    quote_per_minute: int = 500_000  # typical traded value per minute, whole quote units

    @property
    def tick_units(self) -> int:
        return int(10 ** (8 - self.decimals))


@dataclass(slots=True)
class Walk:
    """Generates days for one symbol; remembers the cheap daily anchors it has computed."""

    params: WalkParams
    _anchors: list[int] = field(default_factory=list)
    _anchor_rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._anchor_rng = random.Random(f"{self.params.seed}:{self.params.symbol}:anchors")
        self._anchors.append(self.params.start_ticks)

    def anchor(self, day: int) -> int:
        """Open of `day` in ticks (the close of the day before)."""
        p = self.params
        index = day - p.origin_day
        if index < 0:
            raise ValueError("day before the walk's origin")
        floor = max(1, p.start_ticks // 50)
        while len(self._anchors) <= index:
            last = self._anchors[-1]
            step = _NORMAL[self._anchor_rng.getrandbits(_TABLE_BITS)]
            move = last * p.daily_sigma_ppm // 1_000_000 * step // 1000
            self._anchors.append(max(floor, last + move))
        return self._anchors[index]

    def day(self, day: int) -> list[Candle]:
        """All minutes of a UTC day that the exchange has, oldest first."""
        p = self.params
        first, last = self.anchor(day), self.anchor(day + 1)
        rng = random.Random(f"{p.seed}:{p.symbol}:{day}")
        gap_hours = {h for h in range(24) if rng.getrandbits(20) * 1_000_000 < p.gap_hour_ppm << 20}
        bits = [rng.getrandbits(80) for _ in range(MINUTES)]

        vol = max(1, first * p.minute_sigma_ppm // 1_000_000)
        walk = list(accumulate((_NORMAL[b & 0xFFF] * vol // 1000 for b in bits), initial=0))
        drift = walk[MINUTES] - (last - first)
        tick = p.tick_units
        latent = [
            max(1, first + w - i * drift // MINUTES) * tick for i, w in enumerate(walk)
        ]  # prices from here on are in 1e-8 units
        wick = [(k * k * vol >> 16) * tick for k in range(256)]
        base = p.quote_per_minute * UNIT * UNIT // (first * tick)
        volumes = [base * (8 + k) // 72 for k in range(256)]
        per_trade = base * 2 + 1
        zero_cut = p.zero_trade_ppm * 65536 // 1_000_000
        new = tuple.__new__
        out: list[Candle] = []
        append = out.append
        prev_close = latent[0]
        t = day * DAY_MS - MINUTE_MS
        for i, b in enumerate(bits):
            t += MINUTE_MS
            if gap_hours and i // 60 in gap_hours:
                continue
            if (b >> 28) & 0xFFFF < zero_cut and i:
                c = prev_close
                append(new(Candle, (t, c, c, c, c, 0, 0, 0, 0, 0)))
                continue
            o, c = latent[i], latent[i + 1]
            if o < c:
                h, lo = c + wick[(b >> 12) & 0xFF], o - wick[(b >> 20) & 0xFF]
            else:
                h, lo = o + wick[(b >> 12) & 0xFF], c - wick[(b >> 20) & 0xFF]
            if lo < tick:
                lo = tick
            volume = volumes[(b >> 44) & 0xFF]
            quote = volume * ((h + lo) >> 1) // UNIT
            share = 64 + ((b >> 52) & 0x7F)  # taker buys: 25%..75% of the volume
            trades = 1 + volume * (1 + ((b >> 60) & 0x3FF)) // per_trade
            append(
                new(
                    Candle,
                    (
                        t,
                        o,
                        h,
                        lo,
                        c,
                        volume,
                        quote,
                        trades,
                        volume * share >> 8,
                        quote * share >> 8,
                    ),
                )
            )
            prev_close = c
        return out
