"""Everything one running simulator shares between its REST, stream and admin handlers."""

from __future__ import annotations

from dataclasses import dataclass

from binance_sim.clock import SimClock
from binance_sim.config import SimConfig
from binance_sim.faults import Faults
from binance_sim.market import MarketData
from binance_sim.stats import Stats
from binance_sim.streams import Hub
from binance_sim.weights import WeightLimiter


@dataclass(slots=True)
class SimState:
    config: SimConfig
    clock: SimClock
    market: MarketData
    limiter: WeightLimiter
    faults: Faults
    stats: Stats
    hub: Hub

    @classmethod
    def create(cls, config: SimConfig) -> SimState:
        clock = SimClock(config.clock_origin_ms, config.clock_speed)
        stats = Stats()
        market = MarketData.from_config(config, clock.now_ms)
        faults = Faults(config.faults, seed=config.seed)
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
            hub=Hub(config, clock, market, faults, stats),
        )
