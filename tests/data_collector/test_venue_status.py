"""The collector's per-venue figures written to `venue_status` for the api-server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest
from collector_helpers import FAST, HarnessFactory, SimFactory, spot

from data_collector import venue_status
from devstack.ports import free_port
from linkora_core.markets import BINANCE_SPOT
from tests.polling import eventually


@contextlib.asynccontextmanager
async def writing(
    pool: asyncpg.Pool, task: asyncio.Task[None], stop: asyncio.Event
) -> AsyncIterator[None]:
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def _row(pool: asyncpg.Pool) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT * FROM venue_status WHERE venue = 'binance-spot'"
    )
    return row


async def test_a_streaming_collector_writes_its_venue_row_every_interval(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), **FAST)
    harness = make_collector(sim)
    await harness.streaming()
    # The collector's own writer wrote at its start (not yet connected); only this one's rows.
    await clean_db.execute("DELETE FROM venue_status")
    collector = harness.collector
    stop = asyncio.Event()
    task = asyncio.create_task(venue_status.run_status_writer(collector, clean_db, stop, 0.1))
    async with writing(clean_db, task, stop):
        row = await eventually(lambda: _row(clean_db))
        assert row["connected"] is True
        assert 0 < row["rest_requests"] <= harness.rest.requests
        assert row["budget_limit"] == harness.rest.budget.limit == 6000
        assert 0 <= row["budget_used"] <= row["budget_limit"]
        assert (row["rejections"], row["book_resyncs"], row["malformed"]) == (0, 0, 0)
        assert row["last_error"] is None
        first = row["updated_at"]
        later = await eventually(
            lambda: _later_row(clean_db, first), what="a second write of the row"
        )
        assert later["venue"] == "binance-spot"
        assert await clean_db.fetchval("SELECT count(*) FROM venue_status") == 1


async def _later_row(pool: asyncpg.Pool, than: object) -> asyncpg.Record | None:
    row = await _row(pool)
    return row if row is not None and row["updated_at"] > than else None


async def test_figures_follow_the_stream_errors_and_counters(
    make_sim: SimFactory, make_collector: HarnessFactory
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim)
    collector = harness.collector
    assert venue_status.figures(collector)[0].connected is False  # nothing started yet

    stream = await harness.streaming()
    [live] = venue_status.figures(collector)
    assert live.venue == BINANCE_SPOT and live.connected
    assert live.rest_requests == harness.rest.requests > 0

    stream.malformed += 2
    resyncs = stream.resyncs  # 0 unless the simulator's book really went out of sync
    stream.resyncs += 4
    harness.rest.malformed += 1
    collector.status.of(spot("BTCUSDT")).error = "HTTP 400 (code -1121): Invalid symbol."
    [counted] = venue_status.figures(collector)
    assert counted.malformed == 3
    assert counted.book_resyncs == resyncs + 4  # Binance spot's stream keeps its books too
    assert counted.last_error == "HTTP 400 (code -1121): Invalid symbol."


async def test_a_database_that_is_away_is_logged_and_the_writer_carries_on(
    make_sim: SimFactory, make_collector: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    harness = make_collector(sim)
    # Nothing listens there: every write fails as an unreachable database does.
    away = await asyncpg.create_pool(f"postgresql://u@127.0.0.1:{free_port()}/x", min_size=0)
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="data_collector.venue_status"):
        task = asyncio.create_task(
            venue_status.run_status_writer(harness.collector, away, stop, 0.05)
        )
        async with writing(away, task, stop):
            await eventually(lambda: len(caplog.records) >= 3, what="three failed writes")
            assert not task.done()
    assert all("venue status not written" in r.getMessage() for r in caplog.records)
    await away.close()
