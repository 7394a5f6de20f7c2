"""Backfill against the in-process Binance simulator."""

from __future__ import annotations

import asyncio
import csv
import itertools
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from collector_helpers import (
    MINUTE_MS,
    SHARED,
    HarnessFactory,
    SimFactory,
    days_ago,
    stored_rows,
)

from data_collector import candle_writes


def source_rows(sim: Any, symbol: str, start_ms: int, end_ms: int) -> list[tuple[Any, ...]]:
    out = []
    for row in sim.source.klines(symbol, start_ms, end_ms):
        out.append(
            (
                row[0],
                Decimal(row[1]),
                Decimal(row[2]),
                Decimal(row[3]),
                Decimal(row[4]),
                Decimal(row[5]),
                Decimal(row[7]),
                row[8],
                Decimal(row[9]),
                Decimal(row[10]),
            )
        )
    return out


async def db_rows(pool: asyncpg.Pool, symbol: str) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT * FROM candles WHERE symbol = $1 AND is_closed ORDER BY open_time", symbol
        )
    )


async def test_backfilled_candles_equal_the_source_in_every_field_and_minute(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), seed=3)
    harness = make_collector(sim)
    await harness.backfill()
    for symbol in ("BTCUSDT", "ETHUSDT"):
        rows = await db_rows(clean_db, symbol)
        assert rows, symbol
        first = int(rows[0]["open_time"].timestamp()) * 1000
        last = int(rows[-1]["open_time"].timestamp()) * 1000
        expected = source_rows(sim, symbol, sim.source.stores[symbol].series.first_ms, last)
        assert first == expected[0][0]
        assert stored_rows(rows) == expected
        # The exact decimal text survives too (no rescaling, no exponent).
        assert str(rows[0]["volume"]) == sim.source.klines(symbol, first, first)[0][5]


async def test_second_run_changes_nothing(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), seed=4)
    first = make_collector(sim)
    await first.backfill()
    before = await clean_db.fetch(
        "SELECT symbol, open_time, updated_at FROM candles WHERE is_closed ORDER BY open_time"
    )
    await clean_db.execute("DELETE FROM collector_state")
    again = make_collector(sim, start_date=sim.config.start)
    await again.backfill()
    after = await clean_db.fetch(
        "SELECT symbol, open_time, updated_at FROM candles WHERE is_closed ORDER BY open_time"
    )
    assert [tuple(r) for r in after[: len(before)]] == [tuple(r) for r in before]
    # Only minutes that closed since the first run may be new.
    assert len(after) - len(before) <= 2


async def test_paging_keeps_every_minute_across_page_boundaries(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), seed=5, zero_trade_ppm=0)
    harness = make_collector(sim, backfill_concurrency=3)
    await harness.backfill()
    rows = await db_rows(clean_db, "BTCUSDT")
    times = [int(r["open_time"].timestamp()) * 1000 for r in rows]
    assert len(times) > 2000  # several 1000-minute pages
    assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(times))
    for boundary in (1000, 2000):  # minutes 1000 and 2000 start new pages
        assert times[boundary] - times[boundary - 1] == MINUTE_MS


async def test_resumes_from_the_last_stored_minute(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), seed=6)
    await make_collector(sim).backfill()
    # Lose the newest 1500 minutes, as if the process had died mid-way.
    await clean_db.execute(
        """DELETE FROM candles WHERE open_time > (SELECT max(open_time) FROM candles)
                                                 - interval '1500 minutes'"""
    )
    requests_before = sim.stats.requests["/api/v3/klines"]
    again = make_collector(sim)
    await again.backfill()
    asked = sim.stats.requests["/api/v3/klines"] - requests_before
    assert asked <= 3  # two pages (and no listing lookup): not the whole history again
    rows = await db_rows(clean_db, "BTCUSDT")
    times = [int(r["open_time"].timestamp()) * 1000 for r in rows]
    assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(times))


async def test_exchange_gaps_are_recorded_not_invented(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    probe = await make_sim(symbols=("BTCUSDT",))
    first = probe.source.stores["BTCUSDT"].series.first_ms
    # The simulator's gap ends are inclusive; candle_gaps' end is exclusive.
    last_missing = first + 1559 * MINUTE_MS
    sim = await make_sim(symbols=("BTCUSDT",), gaps=((first + 1500 * MINUTE_MS, last_missing),))
    gap = (first + 1500 * MINUTE_MS, last_missing + MINUTE_MS)
    await make_collector(sim).backfill()
    missing = await clean_db.fetchval(
        """SELECT count(*) FROM candles WHERE symbol = 'BTCUSDT'
           AND open_time >= to_timestamp($1::bigint / 1000)
           AND open_time < to_timestamp($2::bigint / 1000)""",
        *gap,
    )
    assert missing == 0
    gaps = await clean_db.fetch("SELECT gap_start, gap_end FROM candle_gaps")
    assert [
        (int(g["gap_start"].timestamp()) * 1000, int(g["gap_end"].timestamp()) * 1000) for g in gaps
    ] == [gap]


async def test_progress_is_recorded_in_collector_state(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    await make_collector(sim).backfill()
    state = await clean_db.fetchrow("SELECT * FROM collector_state WHERE symbol = 'BTCUSDT'")
    assert state is not None
    assert state["backfill_total"] > 2000
    assert state["backfill_done"] == state["backfill_total"]
    assert state["listed_at"] is not None
    assert state["last_closed_minute"] is not None


async def test_real_binance_file_replayed_is_collected_exactly_with_its_gaps(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    source = SHARED / "data" / "binance" / "ethusdt_2020-01" / "ETHUSDT_1m.csv"
    sim = await make_sim(symbols=(), replay=(source,))
    harness = make_collector(sim, symbols="ETHUSDT", start_date="2020-01-01")
    await harness.backfill()
    with source.open(newline="") as f:
        expected = [
            (int(r[0]), Decimal(r[1]), Decimal(r[2]), Decimal(r[3]), Decimal(r[4]),
             Decimal(r[5]), Decimal(r[7]), int(r[8]), Decimal(r[9]), Decimal(r[10]))
            for r in csv.reader(f) if r and r[0].isdigit()
        ]  # fmt: skip
    assert stored_rows(await db_rows(clean_db, "ETHUSDT")) == expected
    # The file's own missing minutes are recorded as exchange gaps, not invented.
    gap_minutes = await clean_db.fetchval(
        "SELECT sum(extract(epoch FROM gap_end - gap_start) / 60) FROM candle_gaps"
    )
    span = (expected[-1][0] - expected[0][0]) // MINUTE_MS + 1
    assert int(gap_minutes or 0) == span - len(expected)
    # Six years of nothing after the file ends cost one probe, not thousands of pages.
    assert sim.stats.requests["/api/v3/klines"] < 20


async def test_a_long_outage_is_jumped_over_with_one_probe(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    probe = await make_sim(symbols=("BTCUSDT",), start=days_ago(3))
    first = probe.source.stores["BTCUSDT"].series.first_ms
    outage = (first + 100 * MINUTE_MS, first + 2599 * MINUTE_MS)  # 2500 minutes, inclusive
    sim = await make_sim(symbols=("BTCUSDT",), start=days_ago(3), gaps=(outage,))
    harness = make_collector(sim, backfill_concurrency=1)
    await harness.backfill()
    times = [int(r["open_time"].timestamp()) * 1000 for r in await db_rows(clean_db, "BTCUSDT")]
    assert first + 99 * MINUTE_MS in times and first + 2600 * MINUTE_MS in times
    assert not [t for t in times if outage[0] <= t <= outage[1]]
    gaps = await clean_db.fetch("SELECT gap_start, gap_end FROM candle_gaps")
    assert [
        (int(g["gap_start"].timestamp()) * 1000, int(g["gap_end"].timestamp()) * 1000) for g in gaps
    ] == [(outage[0], outage[1] + MINUTE_MS)]
    state = await clean_db.fetchrow("SELECT backfill_done, backfill_total FROM collector_state")
    assert state is not None and state["backfill_done"] == state["backfill_total"]


@pytest.mark.parametrize("data_again_after", [True, False], ids=["data-later", "nothing-after"])
async def test_an_empty_window_keeps_the_data_of_the_windows_in_flight(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    data_again_after: bool,
) -> None:
    # Windows of 1000 minutes from the listing: W0 data, W1 nothing, W2 data, W3 and W4
    # nothing, then data again from minute 5500 (or never again).
    probe = await make_sim(symbols=("BTCUSDT",), start=days_ago(5))
    first = probe.source.stores["BTCUSDT"].series.first_ms
    tail_end = first + 5499 * MINUTE_MS if data_again_after else first + 10**5 * MINUTE_MS
    empty = (
        (first + 1000 * MINUTE_MS, first + 1999 * MINUTE_MS),
        (first + 3000 * MINUTE_MS, tail_end),
    )
    sim = await make_sim(symbols=("BTCUSDT",), start=days_ago(5), gaps=empty)
    harness = make_collector(sim, backfill_concurrency=4)
    await harness.backfill()
    times = [int(r["open_time"].timestamp()) * 1000 for r in await db_rows(clean_db, "BTCUSDT")]
    end = max(times[-1], first + 2999 * MINUTE_MS)
    served = [int(row[0]) for row in sim.source.klines("BTCUSDT", first, end)]
    assert first + 2000 * MINUTE_MS in served
    assert times == served  # every served candle is stored, W2 included
    gaps = await clean_db.fetch("SELECT gap_start, gap_end FROM candle_gaps")
    for gap in gaps:
        start, end = (int(g.timestamp()) * 1000 for g in (gap["gap_start"], gap["gap_end"]))
        assert not [t for t in served if start <= t < end], (start, end)


async def test_a_writer_that_dies_fails_the_backfill_instead_of_hanging_it(
    make_sim: SimFactory, make_collector: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More pages than the writer's queue holds: with the writer gone, fetchers would wait on
    # the full queue forever.
    sim = await make_sim(symbols=("BTCUSDT",), start=days_ago(60))

    async def broken(*_: Any, **__: Any) -> int:
        raise RuntimeError("a bug in the writer")

    monkeypatch.setattr(candle_writes, "copy_upsert", broken)
    harness = make_collector(sim)
    async with asyncio.timeout(60):
        with pytest.raises(RuntimeError, match="a bug in the writer"):
            await harness.backfill()
