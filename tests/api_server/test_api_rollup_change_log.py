"""The rollup maintainer works from the `candle_changes` log: minutes written or corrected
late, days back and while no api-server runs, reach every timeframe once one starts, and a
maintainer killed or cancelled while consuming the log loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from api_helpers import as_decimals, reference_candles, spot, store_minutes
from rollup_helpers import (
    all_rollups,
    assert_rollups_equal_minutes,
    change_log,
    expected_rollups,
    series,
    stored_minutes,
    stored_rollups,
    write_bulk,
    write_live,
)
from starlette.applications import Starlette

from api_server import rollups
from api_server.rollups import RollupMaintainer, consume_changes
from linkora_core import rollup_sql
from linkora_core.candles import Candle
from linkora_core.migrations import discover
from linkora_core.rollup_passes import merge, roll_market
from linkora_core.timeframes import MINUTE_MS

SYMBOL = "LATEUSDT"
DAY_MS = 1440 * MINUTE_MS
END = int(datetime(2024, 3, 4, tzinfo=UTC).timestamp()) * 1000  # a Monday
START = END - 14 * DAY_MS  # the history crosses weeks and the end of a leap February
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def db(clean_db: asyncpg.Pool) -> asyncpg.Pool:
    await clean_db.execute("TRUNCATE candle_changes")
    return clean_db


async def settle(pool: asyncpg.Pool) -> None:
    """Run maintainer passes until the change log is empty."""
    maintainer = RollupMaintainer("unused")
    async with pool.acquire() as connection:
        for _ in range(100):
            await maintainer.cycle(connection)
            if not await connection.fetchval("SELECT count(*) FROM candle_changes"):
                return
    raise AssertionError("the change log was not consumed")


def revised(minutes: list[Candle], factor: int) -> list[Candle]:
    """The same minutes as the exchange corrected them: other volumes, a higher high."""
    return [
        Candle(
            open_time_ms=m.open_time_ms,
            open=m.open,
            high=m.high + factor,
            low=m.low,
            close=m.close,
            volume=m.volume * factor,
            quote_volume=m.quote_volume * factor,
            trades=(m.trades or 0) + factor,
            taker_buy_volume=m.taker_buy_volume,
            taker_buy_quote_volume=m.taker_buy_quote_volume,
        )
        for m in minutes
    ]


async def test_minutes_written_days_late_while_no_maintainer_runs_reach_every_timeframe(
    db: asyncpg.Pool, make_app: Callable[..., Starlette]
) -> None:
    history = series(START, END, seed=1)
    hole = (END - 10 * DAY_MS + 10 * 60 * MINUTE_MS, END - 10 * DAY_MS + 16 * 60 * MINUTE_MS)
    # An api-server ran while the collector stored 12 days with a six-hour hole 10 days back.
    first_run = [
        m
        for m in history
        if m.open_time_ms >= START + 2 * DAY_MS and not hole[0] <= m.open_time_ms < hole[1]
    ]
    await write_live(db, SYMBOL, first_run)
    await settle(db)
    await assert_rollups_equal_minutes(db, SYMBOL)
    rolled_before = await all_rollups(db)

    # No api-server runs now. The audit refills the hole (10 days back), Binance revises two
    # hours 12 days back, an older backfill stores the first two days, and the live stream
    # goes on past END (its newest minute still open).
    await write_bulk(db, SYMBOL, [m for m in history if hole[0] <= m.open_time_ms < hole[1]])
    twelve_days_back = END - 12 * DAY_MS + 5 * 60 * MINUTE_MS
    await write_live(
        db,
        SYMBOL,
        revised(
            [
                m
                for m in history
                if twelve_days_back <= m.open_time_ms < twelve_days_back + 2 * 3_600_000
            ],
            3,
        ),
    )
    await write_bulk(db, SYMBOL, [m for m in history if m.open_time_ms < START + 2 * DAY_MS])
    newer = series(END, END + 90 * MINUTE_MS, seed=2)
    await write_live(db, SYMBOL, newer, open_from=newer[-1].open_time_ms)
    # All of it written three days ago as far as `updated_at` tells: a rescan of recent writes
    # (the old way, 24 h back at start) would never see any of it.
    await db.execute("UPDATE candles SET updated_at = now() - interval '3 days'")
    assert await all_rollups(db) == rolled_before

    application = make_app(
        maintain_rollups=True,
        rollup_interval=0.05,
        candle_cache_seconds=0,
        candle_live_cache_seconds=0,
        rollup_frontier_cache_seconds=0,
        rate_limit_per_second=0,
    )
    async with application.router.lifespan_context(application):
        maintainer: RollupMaintainer = application.state.rollups
        async with asyncio.timeout(60):
            while await db.fetchval("SELECT count(*) FROM candle_changes"):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            cycles = maintainer.cycles
            while maintainer.cycles < cycles + 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await assert_rollups_equal_minutes(db, SYMBOL)
        assert await all_rollups(db) != rolled_before

        minutes, _ = await stored_minutes(db, SYMBOL)
        assert len(minutes) == 14 * 1440 + 90
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            for label in ("5", "45", "2H", "1D", "1W", "1M"):
                response = await client.get(
                    "/candles",
                    params={
                        "symbol": SYMBOL,
                        "timeframe": label,
                        "start_date": "2000-01-01",
                        "limit": 5000,
                    },
                )
                assert response.status_code == 200
                got = [as_decimals(candle) for candle in response.json()]
                assert got == reference_candles(minutes, label), label


async def test_a_long_log_is_consumed_in_bounded_transactions_with_ranges_merged(
    db: asyncpg.Pool,
) -> None:
    await write_live(db, SYMBOL, series(START, END, seed=3))
    await settle(db)
    # Many overlapping writes (as the live stream makes them) and a long correction from the
    # second day on: merged into two ranges, the oldest seven days of minutes consumed (202
    # of them in the first range), the rest put back.
    for i in range(200):
        await write_live(
            db,
            SYMBOL,
            revised(series(START + i * MINUTE_MS, START + (i + 3) * MINUTE_MS, seed=4), 2),
        )
    await write_bulk(db, SYMBOL, revised(series(START + DAY_MS, END, seed=5), 1))
    async with db.acquire() as connection:
        _, more = await consume_changes(connection, spot(SYMBOL))
        assert more
        assert await change_log(db) == [
            (SYMBOL, START + 8 * DAY_MS - 202 * MINUTE_MS, END - MINUTE_MS)
        ]
        _, more = await consume_changes(connection, spot(SYMBOL))
        assert not more
    assert await change_log(db) == []
    await assert_rollups_equal_minutes(db, SYMBOL)


async def test_the_migration_has_rollups_stored_before_the_log_checked_once(
    db: asyncpg.Pool,
) -> None:
    history = series(END - 3 * DAY_MS, END, seed=7)
    await store_minutes(db, SYMBOL, history)
    await roll_market(db, spot(SYMBOL))
    # A correction the old rescan missed (no log then): the rollups disagree with the minutes.
    await store_minutes(db, SYMBOL, revised(history[100:200], 2))
    assert await stored_rollups(db, SYMBOL, "1H") != (await expected_rollups(db, SYMBOL))["1H"]
    await store_minutes(db, "NOROLLUSDT", history[:10])
    [migration] = [m for m in discover() if m.name == "candle_changes"]
    await db.execute(migration.sql)
    assert await change_log(db) == [(SYMBOL, END - 3 * DAY_MS, END - MINUTE_MS)]
    await settle(db)
    await assert_rollups_equal_minutes(db, SYMBOL)


def test_ranges_are_merged_and_split_on_minutes() -> None:
    assert merge([(5, 9), (0, 3), (3, 4), (8, 12), (20, 21)]) == [
        (0, 4),
        (5, 12),
        (20, 21),
    ]
    m = MINUTE_MS
    ranges = [(0, 10 * m), (20 * m, 30 * m), (40 * m, 41 * m)]
    assert rollups._split(ranges, 15 * m, 10) == (
        [(0, 10 * m), (20 * m, 25 * m)],
        [(25 * m, 30 * m), (40 * m, 41 * m)],
    )
    assert rollups._split(ranges, 100 * m, 2) == (ranges[:2], ranges[2:])
    assert rollups._split(ranges, 100 * m, 10) == (ranges, [])


# Run in a child process: the maintainer, whose third rollup write inside a consuming
# transaction announces its backend and then hangs until the process is killed.
_CHILD = """
import asyncio, sys
from api_server import rollups
from linkora_core import rollup_sql

real = rollup_sql.roll_up
calls = 0

async def upsert_then_hang(db, *args, **kwargs):
    global calls
    written = await real(db, *args, **kwargs)
    if db.is_in_transaction():
        calls += 1
        if calls == 3:
            print("mid-consume", db.get_server_pid(), flush=True)
            await asyncio.Event().wait()
    return written

rollup_sql.roll_up = upsert_then_hang
asyncio.run(rollups.RollupMaintainer(sys.argv[1], interval=0.05).run(asyncio.Event()))
"""


@contextlib.asynccontextmanager
async def maintainer_child(dsn: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["core", "api-server", "."])}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, dsn, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        async with asyncio.timeout(60):
            line = (await child.stdout.readline()).decode().split()
        assert line[0] == "mid-consume", line
        yield child, int(line[1])
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


async def backend_gone(pool: asyncpg.Pool, pid: int) -> None:
    async with asyncio.timeout(30):
        query = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
        while await pool.fetchval(query, pid):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("how", ["kill -9", "cancel"])
async def test_a_maintainer_stopped_mid_consume_loses_nothing(
    db: asyncpg.Pool, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    history = series(END - 4 * DAY_MS, END, seed=6)
    await write_live(db, SYMBOL, history)
    await settle(db)
    rolled_before = await all_rollups(db)
    # Late corrections of three days, logged; then a maintainer starts and is stopped with
    # its consuming transaction half done.
    await write_bulk(db, SYMBOL, revised(history[: 3 * 1440], 2))
    logged = await change_log(db)
    assert logged == [(SYMBOL, END - 4 * DAY_MS, END - DAY_MS - MINUTE_MS)]

    if how == "kill -9":
        async with maintainer_child(pg_dsn) as (child, pid):
            os.kill(child.pid, signal.SIGKILL)
            await child.wait()
        await backend_gone(db, pid)
    else:
        real = rollup_sql.roll_up
        reached = asyncio.Event()
        calls = 0

        async def upsert_then_hang(conn: Any, *args: Any, **kwargs: Any) -> int:
            nonlocal calls
            written = await real(conn, *args, **kwargs)
            if conn.is_in_transaction():
                calls += 1
                if calls == 3:
                    reached.set()
                    await asyncio.Event().wait()
            return written

        monkeypatch.setattr(rollup_sql, "roll_up", upsert_then_hang)
        stop = asyncio.Event()
        task = asyncio.create_task(RollupMaintainer(pg_dsn, interval=0.05).run(stop))
        try:
            async with asyncio.timeout(60):
                await reached.wait()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            monkeypatch.undo()

    # Nothing of the half-done pass is visible, and the log still holds all of the work.
    assert await change_log(db) == logged
    assert await all_rollups(db) == rolled_before
    await settle(db)
    await assert_rollups_equal_minutes(db, SYMBOL)
    assert await all_rollups(db) != rolled_before


async def test_a_backfills_log_is_consumed_without_aggregating_its_minutes_twice(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = series(END - 3 * DAY_MS, END, seed=8)
    await write_bulk(db, SYMBOL, history[: 2 * 1440])
    await write_bulk(db, SYMBOL, history[2 * 1440 :])
    assert len(await change_log(db)) == 2
    real = rollup_sql.roll_up
    replaced: list[Any] = []

    async def counting(conn: Any, *args: Any, replace: bool) -> int:
        if replace:
            replaced.append(args)
        return await real(conn, *args, replace=replace)

    monkeypatch.setattr(rollup_sql, "roll_up", counting)
    await settle(db)
    assert replaced == []
    await assert_rollups_equal_minutes(db, SYMBOL)
    # A correction of stored buckets is re-aggregated, in place.
    await write_live(db, SYMBOL, revised(history[100:130], 2))
    await settle(db)
    assert replaced
    await assert_rollups_equal_minutes(db, SYMBOL)
