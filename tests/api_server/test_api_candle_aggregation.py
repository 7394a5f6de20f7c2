"""Every timeframe from REST equals a straightforward reference aggregation, whatever mix of
stored rollups, not-yet-rolled closed buckets and the open bucket the data is in."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import httpx
from api_helpers import (
    as_decimals,
    db_examples,
    minute,
    minute_series,
    reference_candles,
    spot,
    store_minutes,
)
from hypothesis import given
from hypothesis import strategies as st

from linkora_core.candles import Candle
from linkora_core.rollup_passes import roll_market
from linkora_core.timeframes import MINUTE_MS, Timeframe

SYMBOL = "PROPUSDT"
BASE = int(datetime(2024, 2, 26, tzinfo=UTC).timestamp()) * 1000  # a Monday, end of February


async def fetch(
    client: httpx.AsyncClient, timeframe: Timeframe, **extra: str | int
) -> list[dict[str, object]]:
    params = {"symbol": SYMBOL, "timeframe": timeframe.value, "limit": 5000, **extra}
    response = await client.get("/candles", params=params)
    assert response.status_code == 200
    return [as_decimals(candle) for candle in response.json()]


@db_examples(12)
@given(
    series=minute_series(),
    rolled_fraction=st.sampled_from([0.0, 0.5, 1.0]),
    open_minutes=st.integers(0, 3),
)
async def test_every_timeframe_equals_the_reference_aggregation(
    client: httpx.AsyncClient,
    clean_db: asyncpg.Pool,
    series: list[Candle],
    rolled_fraction: float,
    open_minutes: int,
) -> None:
    await clean_db.execute("TRUNCATE candles, candle_rollups")
    split = int(len(series) * rolled_fraction)
    open_minutes = min(open_minutes, len(series))  # a series may be shorter than 3 minutes
    open_from = series[-open_minutes].open_time_ms if open_minutes else None
    await store_minutes(clean_db, SYMBOL, series[:split], open_from=open_from)
    await roll_market(clean_db, spot(SYMBOL))
    await store_minutes(clean_db, SYMBOL, series[split:], open_from=open_from)
    for timeframe in Timeframe:
        expected = reference_candles(series, timeframe.value)
        assert await fetch(client, timeframe, start_date="2000-01-01") == expected, timeframe
        newest = await fetch(client, timeframe, limit=max(1, len(expected) // 2))
        assert newest == expected[::-1][: len(newest)], timeframe


async def test_a_bucket_opening_with_a_placeholder_takes_open_and_range_from_real_trades(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    minutes = [
        minute(BASE, "5", "5", "5", "5", volume="0", trades=0),
        minute(BASE + MINUTE_MS, "7", "8", "6.5", "7.5", volume="2", trades=3),
        minute(BASE + 2 * MINUTE_MS, "7.5", "7.5", "7.5", "7.5", volume="0", trades=0),
    ]
    await store_minutes(clean_db, SYMBOL, minutes)
    await roll_market(clean_db, spot(SYMBOL))
    response = await client.get(f"/candles?symbol={SYMBOL}&timeframe=3")
    [candle] = response.json()
    assert (candle["open_price"], candle["high_price"], candle["low_price"]) == ("7", "8", "6.5")
    assert (candle["close_price"], candle["volume"], candle["trades"]) == ("7.5", "2", 3)
