"""Property: whatever series the simulator generates (its seed, minutes without trades, hours
the exchange lacks), the Collector's backfill through each venue's REST source stores exactly
the simulator's minutes, field by field, under that venue."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from venue_harness import MARKETS, SERIES, VenueHarness, assert_rows_equal_series, stored_closed
from venue_harness import venue_settings as settings_of

from exchange_sim.config import SimConfig, parse_day
from exchange_sim.intervals import DAY_MS
from exchange_sim.server import SimServer

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
START = "2024-03-01"
SPAN_HOURS = 30  # the frozen "now" is this far past START, 34.567 s into a minute
TABLES = "candles, candle_rollups, candle_changes, candle_gaps, collector_state"


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(1, 2**31),
    zero_trade_ppm=st.integers(20_000, 300_000),
    gap_hour_ppm=st.integers(0, 80_000),
    missing=st.lists(st.integers(1, SPAN_HOURS - 2), min_size=1, max_size=3, unique=True),
)
async def test_every_venue_stores_the_simulators_minutes_field_by_field(
    clean_db: asyncpg.Pool,
    redis: Redis,
    seed: int,
    zero_trade_ppm: int,
    gap_hour_ppm: int,
    missing: list[int],
) -> None:
    await clean_db.execute(f"TRUNCATE {TABLES}")  # a fixed list: one example's rows go
    start = parse_day(START) * DAY_MS
    now = start + SPAN_HOURS * HOUR_MS + 34_567
    gaps = tuple((start + h * HOUR_MS, start + h * HOUR_MS + 59 * MINUTE_MS) for h in missing)
    config = SimConfig(
        symbols=(SERIES,), start=START, seed=seed, zero_trade_ppm=zero_trade_ppm,
        gap_hour_ppm=gap_hour_ppm, gaps=gaps, clock_origin_ms=now, clock_speed=0.0,
    )  # fmt: skip
    last_closed = now // MINUTE_MS * MINUTE_MS - MINUTE_MS
    async with SimServer(config) as sim:
        series = sim.source.klines(SERIES, start, last_closed)
        # What the property is about is in the series: idle minutes and missing hours.
        assert any(Decimal(k[5]) == 0 for k in series)
        assert len(series) <= (SPAN_HOURS - len(missing)) * 60
        harness = VenueHarness(settings_of(sim, list(MARKETS), start), clean_db, redis)
        try:
            await harness.backfill()
        finally:
            await harness.close()
        for market in MARKETS:
            rows = await stored_closed(clean_db, market)
            assert_rows_equal_series(sim, market, rows, start, last_closed)
