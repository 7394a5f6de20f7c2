"""Prewarming builds, on worker processes, exactly the chunks lazy serving would build."""

from __future__ import annotations

from sim_support import START_MS, frozen

from exchange_sim import MarketData, SimClock
from exchange_sim.klines import KlineQuery

DAY = 86_400_000


async def test_prewarmed_pages_equal_lazily_built_pages() -> None:
    config = frozen(symbols=("BTCUSDT",), gap_hour_ppm=100_000, zero_trade_ppm=20_000)
    lazy = MarketData.from_config(config, SimClock(START_MS + 3 * DAY, speed=0).now_ms)
    warm = MarketData.from_config(config, SimClock(START_MS + 3 * DAY, speed=0).now_ms)
    assert await warm.prewarm(end_ms=START_MS + 2 * DAY, workers=2) == 3
    for start in (START_MS, START_MS + 1000 * 60_000, START_MS + 2 * DAY - 60_000):
        query = KlineQuery("BTCUSDT", "1m", start, None, 1000)
        assert warm.page(query) == lazy.page(query)
