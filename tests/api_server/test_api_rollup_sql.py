"""The rollups PostgreSQL aggregates set-wise equal the pure reference `aggregate()` of core,
bucket for bucket and value for value, on random minutes with zero-trade placeholders and gaps,
for every timeframe; and PostgreSQL's bucket starts are `Timeframe.bucket_start`'s."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from api_helpers import db_examples, minute, minute_series, spot, store_minutes
from hypothesis import given, settings
from hypothesis import strategies as st

from api_server import candle_store
from linkora_core import rollup_sql
from linkora_core.candles import Candle, aggregate
from linkora_core.epoch import to_datetime, to_ms
from linkora_core.rollup_passes import ROLLED, SOURCE, roll_market
from linkora_core.timeframes import MINUTE_MS, Timeframe

SYMBOL = "SQLUSDT"
_EXAMPLES = db_examples(15)


async def stored(db: asyncpg.Pool, timeframe: Timeframe) -> list[Candle]:
    return await candle_store.read_range(db, spot(SYMBOL), timeframe, None, None)


@_EXAMPLES
@given(series=minute_series())
async def test_sql_aggregation_of_minutes_equals_the_reference_for_every_timeframe(
    clean_db: asyncpg.Pool, series: list[Candle]
) -> None:
    await clean_db.execute("TRUNCATE candles, candle_rollups, candle_changes")
    await store_minutes(clean_db, SYMBOL, series)
    whole = [(Timeframe.MINUTE_1, None, None)]
    for timeframe in ROLLED:
        got = await candle_store.aggregate(clean_db, spot(SYMBOL), timeframe, whole)
        assert got == aggregate(series, timeframe), timeframe


@_EXAMPLES
@given(series=minute_series(), open_minutes=st.integers(0, 2))
async def test_rollups_built_from_their_sources_equal_the_reference_of_the_minutes(
    clean_db: asyncpg.Pool, series: list[Candle], open_minutes: int
) -> None:
    await clean_db.execute("TRUNCATE candles, candle_rollups, candle_changes")
    open_from = series[-open_minutes].open_time_ms if open_minutes else None
    await store_minutes(clean_db, SYMBOL, series, open_from=open_from)
    await roll_market(clean_db, spot(SYMBOL))
    horizon = await rollup_sql.closed_horizon(clean_db, spot(SYMBOL))
    for timeframe in ROLLED:
        closed = [
            c
            for c in aggregate(series, timeframe)
            if horizon is not None and c.close_time_ms < horizon
        ]
        assert await stored(clean_db, timeframe) == closed, timeframe


async def test_a_reaggregated_range_is_replaced_and_buckets_whose_minutes_went_are_dropped(
    clean_db: asyncpg.Pool,
) -> None:
    base = int(datetime(2024, 2, 26, tzinfo=UTC).timestamp()) * 1000
    minutes = [minute(base + i * MINUTE_MS, "10", "12", "9", "11") for i in range(180)]
    await store_minutes(clean_db, SYMBOL, minutes)
    await roll_market(clean_db, spot(SYMBOL))
    assert len(await stored(clean_db, Timeframe.HOUR_1)) == 3
    # The second hour's minutes vanish and the first hour's are corrected.
    await clean_db.execute(
        "DELETE FROM candles WHERE symbol = $1 AND open_time >= $2 AND open_time < $3",
        SYMBOL,
        to_datetime(base + 60 * MINUTE_MS),
        to_datetime(base + 120 * MINUTE_MS),
    )
    corrected = [minute(m.open_time_ms, "10", "15", "8", "11", volume="2") for m in minutes[:60]]
    await store_minutes(clean_db, SYMBOL, corrected)
    for timeframe in ROLLED:  # each after its source, as the maintainer does
        await rollup_sql.roll_up(
            clean_db,
            spot(SYMBOL),
            timeframe,
            SOURCE[timeframe],
            timeframe.bucket_start(base),
            timeframe.bucket_start(base + 180 * MINUTE_MS),
            replace=True,
        )
    remaining = corrected + minutes[120:]
    hourly = await stored(clean_db, Timeframe.HOUR_1)
    assert hourly == aggregate(remaining, Timeframe.HOUR_1)
    assert len(hourly) == 2
    assert hourly[0].high == 15 and hourly[0].volume == 120


_MINUTES_TO_2200 = to_ms(datetime(2200, 1, 1, tzinfo=UTC)) // MINUTE_MS


@settings(max_examples=40, deadline=None)
@given(minutes=st.lists(st.integers(0, _MINUTES_TO_2200), min_size=1, max_size=50))
async def test_bucket_starts_in_sql_are_those_of_bucket_start_in_any_session_time_zone(
    pg_dsn: str, minutes: list[int]
) -> None:
    times = [m * MINUTE_MS for m in minutes]
    columns = ", ".join(rollup_sql.bucket_sql(tf, "at") for tf in ROLLED)
    connection = await asyncpg.connect(pg_dsn)
    try:
        await connection.execute("SET TIME ZONE 'Pacific/Chatham'")  # +12:45 / +13:45
        rows = await connection.fetch(
            f"SELECT {columns} FROM unnest($1::timestamptz[]) WITH ORDINALITY AS t(at, n) "
            "ORDER BY n",
            [to_datetime(ms) for ms in times],
        )
    finally:
        await connection.close()
    got = [[to_ms(value) for value in row] for row in rows]
    assert got == [[tf.bucket_start(ms) for tf in ROLLED] for ms in times]
