"""The rollup maintainer stores closed buckets as minutes close, never an open one, repairs
buckets whose history arrives late (found in the change log), and lets only one replica work
at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
from api_helpers import minute, reference_candles, settings_for, store_minutes
from rollup_helpers import write_live

from api_server.app import create_app
from api_server.rollups import RollupMaintainer
from linkora_core.epoch import to_ms
from linkora_core.timeframes import MINUTE_MS

SYMBOL = "ROLLUSDT"
BASE = int(datetime(2024, 3, 4, tzinfo=UTC).timestamp()) * 1000  # a Monday


async def stored(db: asyncpg.Pool, timeframe: str) -> list[tuple[int, str, int]]:
    rows = await db.fetch(
        "SELECT open_time, volume, trades FROM candle_rollups WHERE symbol = $1 "
        "AND timeframe = $2 ORDER BY open_time",
        SYMBOL,
        timeframe,
    )
    return [(to_ms(r[0]), str(r[1]), r[2]) for r in rows]


def minutes(first: int, count: int, volume: str = "1") -> list:  # type: ignore[type-arg]
    return [
        minute(BASE + (first + i) * MINUTE_MS, "10", "11", "9", "10", volume=volume)
        for i in range(count)
    ]


async def test_closed_buckets_are_stored_as_minutes_close_and_open_ones_never(
    clean_db: asyncpg.Pool, pg_dsn: str
) -> None:
    maintainer = RollupMaintainer(pg_dsn)
    await store_minutes(clean_db, SYMBOL, minutes(0, 14), open_from=BASE + 13 * MINUTE_MS)
    await maintainer.cycle(clean_db)
    assert [t for t, _, _ in await stored(clean_db, "5")] == [BASE, BASE + 5 * MINUTE_MS]
    assert await stored(clean_db, "15") == []
    # Minutes 13 and 14 close and minute 15 opens: the first 15m bucket closes.
    await store_minutes(clean_db, SYMBOL, minutes(13, 3), open_from=BASE + 15 * MINUTE_MS)
    await maintainer.cycle(clean_db)
    assert await stored(clean_db, "15") == [(BASE, "15", 15)]
    assert await stored(clean_db, "1H") == []


async def test_late_history_is_found_in_the_change_log_and_its_buckets_rebuilt(
    clean_db: asyncpg.Pool, pg_dsn: str
) -> None:
    await clean_db.execute("TRUNCATE candle_changes")
    maintainer = RollupMaintainer(pg_dsn)
    first_hour = minutes(0, 60)
    await write_live(clean_db, SYMBOL, first_hour[:30] + first_hour[40:] + minutes(60, 61))
    await maintainer.cycle(clean_db)
    assert await stored(clean_db, "1H") == [(BASE, "50", 50), (BASE + 60 * MINUTE_MS, "60", 60)]
    await write_live(clean_db, SYMBOL, first_hour[30:40])
    await maintainer.cycle(clean_db)
    assert await stored(clean_db, "1H") == [(BASE, "60", 60), (BASE + 60 * MINUTE_MS, "60", 60)]
    everything = first_hour + minutes(60, 61)
    for timeframe in ("3", "45", "2H"):
        expected = [
            (c["timestamp"], str(c["volume"]), c["trades"])
            for c in reference_candles(everything, timeframe)
        ]
        # The last bucket of each ends after minute 120, the newest: still open, not stored.
        assert await stored(clean_db, timeframe) == expected[:-1]


async def test_only_one_replica_holds_the_lock_and_maintains(
    clean_db: asyncpg.Pool, pg_dsn: str
) -> None:
    await store_minutes(clean_db, SYMBOL, minutes(0, 61))
    first = RollupMaintainer(pg_dsn, interval=0.05)
    second = RollupMaintainer(pg_dsn, interval=0.05)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(m.run(stop)) for m in (first, second)]
    try:
        for _ in range(100):
            if first.cycles + second.cycles >= 3:
                break
            await asyncio.sleep(0.05)
        assert (first.cycles == 0) != (second.cycles == 0)
        assert await stored(clean_db, "1H") == [(BASE, "60", 60)]
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_the_server_keeps_rollups_current_by_itself(
    service_env: dict[str, str], clean_db: asyncpg.Pool
) -> None:
    application = create_app(settings_for(service_env, rollup_interval=0.05))
    async with application.router.lifespan_context(application):
        await store_minutes(clean_db, SYMBOL, minutes(0, 61))
        for _ in range(200):
            if await stored(clean_db, "1H"):
                break
            await asyncio.sleep(0.05)
        assert await stored(clean_db, "1H") == [(BASE, "60", 60)]
        await store_minutes(clean_db, SYMBOL, minutes(61, 60))
        for _ in range(200):
            if len(await stored(clean_db, "1H")) == 2:
                break
            await asyncio.sleep(0.05)
        assert await stored(clean_db, "1H") == [(BASE, "60", 60), (BASE + 3_600_000, "60", 60)]
