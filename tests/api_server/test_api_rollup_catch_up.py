"""While rollups are missing or far behind (right after a backfill), pages of every timeframe
are still exact, and a page reads minutes only for a window about as wide as itself (never
every minute since the frontier)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from api_helpers import db_examples, minute_series, spot, store_minutes
from hypothesis import given
from hypothesis import strategies as st
from rollup_helpers import series

from api_server import candle_store
from api_server.candle_reader import Reader
from linkora_core.candles import Candle, aggregate
from linkora_core.markets import Market
from linkora_core.rollup_passes import ROLLED, roll_market
from linkora_core.timeframes import MINUTE_MS, Timeframe

SYMBOL = "BEHINDUSDT"
DAY_MS = 1440 * MINUTE_MS


@db_examples(10)
@given(
    minutes=minute_series(),
    rolled_fraction=st.sampled_from([0.0, 0.3, 0.9]),
    limit=st.integers(1, 40),
    start_at=st.floats(0, 1),
)
async def test_pages_behind_the_frontier_equal_the_reference_for_every_timeframe(
    clean_db: asyncpg.Pool,
    minutes: list[Candle],
    rolled_fraction: float,
    limit: int,
    start_at: float,
) -> None:
    await clean_db.execute("TRUNCATE candles, candle_rollups, candle_changes")
    split = int(len(minutes) * rolled_fraction)
    await store_minutes(clean_db, SYMBOL, minutes[:split])
    await roll_market(clean_db, spot(SYMBOL))
    await store_minutes(clean_db, SYMBOL, minutes[split:])
    start = minutes[int((len(minutes) - 1) * start_at)].open_time_ms
    for timeframe in ROLLED:
        expected = aggregate(minutes, timeframe)
        reader = await Reader.open(clean_db, spot(SYMBOL), timeframe)
        assert await reader.newest(timeframe, None, limit) == expected[::-1][:limit], timeframe
        first = timeframe.bucket_start(start)
        from_start = [c for c in expected if c.open_time_ms >= first]
        if first < start:  # a page starts at the first bucket opening at or after `start`
            from_start = from_start[1:]
        assert await reader.oldest(timeframe, start, None, limit) == from_start[:limit]


@pytest.mark.parametrize("label", ["3", "45", "4H", "1D"])
async def test_a_page_reads_minutes_for_about_its_own_width_only(
    clean_db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, label: str
) -> None:
    timeframe = Timeframe(label)
    end = 1_709_251_200_000  # 2024-03-01
    await store_minutes(clean_db, SYMBOL, series(end - 20 * DAY_MS, end, seed=9))
    read: list[int] = []
    real = candle_store.aggregate

    async def spy(db: Any, market: Market, tf: Timeframe, segments: Any) -> list[Candle]:
        for source, lo, hi in segments:
            if source is Timeframe.MINUTE_1:
                assert lo is not None, "an unbounded minute scan"
                read.append((end if hi is None else hi) - lo)
        return await real(db, market, tf, segments)

    monkeypatch.setattr(candle_store, "aggregate", spy)
    reader = await Reader.open(clean_db, spot(SYMBOL), timeframe)
    width = timeframe.width_ms
    assert width is not None
    assert len(await reader.newest(timeframe, None, 4)) == 4
    assert len(await reader.oldest(timeframe, end - 20 * DAY_MS, None, 4)) == 4
    assert read and max(read) <= 5 * width, read
