"""Storage errors: transient ones retried, refused rows isolated and reported, the rest stored."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import asyncpg
import pytest
from collector_helpers import (
    MINUTE_MS,
    HarnessFactory,
    SimFactory,
    closed_minutes,
    days_ago,
    lose_candles,
    spot,
)
from conftest import CandleRefusals
from prometheus_client import generate_latest

from data_collector import audit, metrics, storage
from data_collector.live_store import LiveStore
from linkora_core.candles import Candle, LiveCandle
from tests.polling import eventually

TRANSIENT = ["53100", "53200", "25006", "40P01", "40001"]


@pytest.mark.parametrize("sqlstate", TRANSIENT)
async def test_a_transient_error_while_backfilling_is_retried_and_nothing_is_lost(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    refusals: CandleRefusals,
    sqlstate: str,
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    first = sim.source.stores["BTCUSDT"].series.first_ms
    await refusals.refuse(first + 10 * MINUTE_MS, sqlstate, times=3)
    harness = make_collector(sim)
    await harness.backfill()
    minutes = await closed_minutes(clean_db, "BTCUSDT")
    assert minutes[0] == first
    assert minutes == [first + i * MINUTE_MS for i in range(len(minutes))]
    assert len(minutes) > 2000
    assert await refusals.tries() >= 4  # refused three times, then written
    assert sum(harness.collector.refusals.counts.values()) == 0


async def test_a_refused_row_is_isolated_reported_and_the_rest_of_the_batch_stored(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    refusals: CandleRefusals,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    first = sim.source.stores["BTCUSDT"].series.first_ms
    bad = first + 1234 * MINUTE_MS
    await refusals.refuse(bad, "22003")  # numeric value out of range
    harness = make_collector(sim)
    await harness.backfill()
    minutes = await closed_minutes(clean_db, "BTCUSDT")
    assert bad not in minutes
    assert minutes == [first + i * MINUTE_MS for i in range(len(minutes) + 1) if i != 1234]
    assert harness.collector.refusals.counts == {"backfill": 1}
    exposition = generate_latest(metrics.registry_for(harness.collector)).decode()
    assert 'collector_rows_refused_total{path="backfill"} 1.0' in exposition
    assert any("refused by the database" in r.getMessage() for r in caplog.records)
    # Not an exchange gap: the audit asks for it again.
    assert await clean_db.fetchval("SELECT count(*) FROM candle_gaps") == 0


async def test_the_audit_survives_a_refused_row_and_restores_the_others(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    refusals: CandleRefusals,
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    first = sim.source.stores["BTCUSDT"].series.first_ms
    harness = make_collector(sim)
    await harness.backfill()
    await lose_candles(clean_db, first + 120 * MINUTE_MS, start_ms=first + 100 * MINUTE_MS)
    await refusals.refuse(first + 110 * MINUTE_MS, "23514")  # check violation
    restored, recorded = await audit.audit_market(harness.rest, clean_db, spot("BTCUSDT"))
    assert (restored, recorded) == (19, 0)
    # Asked again (not an exchange gap), refused again, reported.
    counted = storage.Refusals()
    assert await audit.audit_market(harness.rest, clean_db, spot("BTCUSDT"), refusals=counted) == (
        0,
        0,
    )
    assert counted.counts == {"audit": 1}
    minutes = set(await closed_minutes(clean_db, "BTCUSDT"))
    assert first + 109 * MINUTE_MS in minutes and first + 110 * MINUTE_MS not in minutes


async def test_lowering_start_date_backfills_the_earlier_span(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), start=days_ago(3))
    first = sim.source.stores["BTCUSDT"].series.first_ms
    await make_collector(sim, start_date=days_ago(1)).backfill()
    assert (await closed_minutes(clean_db, "BTCUSDT"))[0] > first
    await make_collector(sim, start_date=days_ago(3)).backfill()
    minutes = await closed_minutes(clean_db, "BTCUSDT")
    assert minutes == [first + i * MINUTE_MS for i in range(len(minutes))]


async def test_a_lost_first_batch_is_found_by_the_next_backfill(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    first = sim.source.stores["BTCUSDT"].series.first_ms
    await make_collector(sim).backfill()
    await lose_candles(clean_db, first + 1500 * MINUTE_MS)
    await make_collector(sim).backfill()
    minutes = await closed_minutes(clean_db, "BTCUSDT")
    assert minutes == [first + i * MINUTE_MS for i in range(len(minutes))]


def live_candle(open_ms: int) -> LiveCandle:
    one = Decimal("1.5")
    return LiveCandle(
        spot("BTCUSDT"), Candle(open_ms, one, one, one, one, one, one, 3, one, one), True
    )


LIVE_START = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE_MS


async def test_a_refused_live_candle_is_dropped_alone(
    clean_db: asyncpg.Pool, refusals: CandleRefusals
) -> None:
    store = LiveStore(clean_db)
    await refusals.refuse(LIVE_START + MINUTE_MS, "22003")
    for i in range(3):
        store.candle(live_candle(LIVE_START + i * MINUTE_MS))
    await store.flush()
    assert await closed_minutes(clean_db, "BTCUSDT") == [LIVE_START, LIVE_START + 2 * MINUTE_MS]
    assert store.refusals.counts == {"live": 1}
    assert store.pending == 0


async def test_a_forgotten_market_buffers_nothing_more_even_mid_flush(
    clean_db: asyncpg.Pool,
) -> None:
    store = LiveStore(clean_db)
    other = LiveCandle(spot("ETHUSDT"), live_candle(LIVE_START).candle, True)
    store.candle(live_candle(LIVE_START))
    store.candle(other)
    # A flush held up mid-write (the table locked) is waited for by forget: what it had
    # taken is written before forget returns; what is buffered after is dropped.
    async with clean_db.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE candles IN EXCLUSIVE MODE")
        flushing = asyncio.create_task(store.flush())
        await asyncio.sleep(0.2)
        store.candle(live_candle(LIVE_START + MINUTE_MS))
        store.candle(LiveCandle(spot("ETHUSDT"), live_candle(LIVE_START + MINUTE_MS).candle, True))
        forgetting = asyncio.create_task(store.forget(spot("BTCUSDT")))
        await asyncio.sleep(0.2)
        assert not forgetting.done()  # the flush holds it
    await flushing
    await forgetting
    assert await closed_minutes(clean_db, "BTCUSDT") == [LIVE_START]
    await store.flush()
    assert await closed_minutes(clean_db, "BTCUSDT") == [LIVE_START]
    assert await closed_minutes(clean_db, "ETHUSDT") == [LIVE_START, LIVE_START + MINUTE_MS]


async def test_a_transient_error_keeps_live_candles_buffered_until_written(
    clean_db: asyncpg.Pool, refusals: CandleRefusals
) -> None:
    store = LiveStore(clean_db)
    await refusals.refuse(LIVE_START, "53100", times=2)  # disk full, twice
    for i in range(3):
        store.candle(live_candle(LIVE_START + i * MINUTE_MS))
    task = asyncio.create_task(store.run(period=0.05))
    try:

        async def all_stored() -> bool:
            return len(await closed_minutes(clean_db, "BTCUSDT")) == 3

        await eventually(all_stored, within=20)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert store.refusals.counts == {}


async def test_the_audit_finds_minutes_missing_before_the_oldest_stored_one(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    first = sim.source.stores["BTCUSDT"].series.first_ms
    harness = make_collector(sim)
    await harness.backfill()
    await lose_candles(clean_db, first + 1500 * MINUTE_MS)
    restored, recorded = await audit.audit_market(
        harness.rest, clean_db, spot("BTCUSDT"), first_ms=first
    )
    assert (restored, recorded) == (1500, 0)
    minutes = await closed_minutes(clean_db, "BTCUSDT")
    assert minutes == [first + i * MINUTE_MS for i in range(len(minutes))]
