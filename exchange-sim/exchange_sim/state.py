"""Everything one running simulator shares between its REST, stream and admin handlers."""

from __future__ import annotations

from dataclasses import dataclass

from exchange_sim.books import Books
from exchange_sim.clock import SimClock
from exchange_sim.config import SimConfig
from exchange_sim.faults import Faults
from exchange_sim.market import MarketData
from exchange_sim.stats import Stats
from exchange_sim.streams import Hub
from exchange_sim.weights import WeightLimiter


@dataclass(slots=True)
class SimState:
    config: SimConfig
    clock: SimClock
    market: MarketData
    limiter: WeightLimiter
    faults: Faults
    stats: Stats
    hub: Hub
    books: Books  # the spot books behind /api/v3/depth and the depth streams

    @classmethod
    def create(cls, config: SimConfig) -> SimState:
        clock = SimClock(config.clock_origin_ms, config.clock_speed)
        stats = Stats()
        market = MarketData.from_config(config, clock.now_ms)
        faults = Faults(config.faults, seed=config.seed)
        books = Books(market)
        return cls(
            config=config,
            clock=clock,
            market=market,
            limiter=WeightLimiter(
                config.weight_limit,
                ban_base=config.ban_base_seconds,
                ban_max=config.ban_max_seconds,
                tolerated=config.tolerated_in_window,
            ),
            faults=faults,
            stats=stats,
            hub=Hub(config, clock, market, books, faults, stats),
            books=books,
        )
