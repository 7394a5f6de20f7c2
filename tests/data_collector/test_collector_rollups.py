"""A bulk write (backfill, audit) stores the rollups of the buckets it completes or changes in
its own transaction, equal to the reference aggregation, and logs nothing for the maintainer."""

from __future__ import annotations

from typing import Any

import asyncpg
from collector_helpers import MINUTE_MS, HarnessFactory, SimFactory, spot

from data_collector import candle_writes
from data_collector.audit import audit_market
from linkora_core.candle_columns import VALUES, candle, values
from linkora_core.candles import aggregate
from linkora_core.epoch import to_datetime, to_ms
from linkora_core.rollup_passes import ROLLED
from linkora_core.timeframes import Timeframe

BASE = 1_709_251_200_000  # 2024-03-01T00:00Z, a Friday
FAR_FUTURE = BASE + 10**12  # "now" for staged rows: every minute closed


def kline(open_ms: int, close: str = "10", trades: int = 3) -> list[Any]:
    """A raw Binance kline row (strings, as the REST API sends them)."""
    volume = "1" if trades else "0"
    return [open_ms, "10", "12", "9", close, volume, open_ms + MINUTE_MS - 1, "10", trades,
            "0.5", "5"]  # fmt: skip


def klines(first: int, count: int) -> list[list[Any]]:
    """`count` minutes from minute `first` of BASE, prices walking, every seventh untraded."""
    return [
        kline(BASE + i * MINUTE_MS, close=str(10 + i % 13), trades=0 if i % 7 == 0 else 3)
        for i in range(first, first + count)
    ]


async def expected(pool: asyncpg.Pool, symbol: str) -> dict[Timeframe, list[tuple[Any, ...]]]:
    """The reference aggregation of the stored minutes, closed buckets only."""
    rows = await pool.fetch(
        f"SELECT open_time, {VALUES}, is_closed FROM candles WHERE symbol = $1 ORDER BY 1", symbol
    )
    minutes = [candle(to_ms(r[0]), r[1:-1], Timeframe.MINUTE_1) for r in rows]
    horizon = max(to_ms(r[0]) for r in rows if r[-1]) + MINUTE_MS
    return {
        tf: [
            (c.open_time_ms, *values(c))
            for c in aggregate(minutes, tf)
            if tf.next_start(c.open_time_ms) <= horizon
        ]
        for tf in ROLLED
    }


async def stored(pool: asyncpg.Pool, symbol: str) -> dict[Timeframe, list[tuple[Any, ...]]]:
    rows = await pool.fetch(
        f"SELECT timeframe, open_time, {VALUES} FROM candle_rollups WHERE symbol = $1 "
        "ORDER BY 1, 2",
        symbol,
    )
    out: dict[Timeframe, list[tuple[Any, ...]]] = {tf: [] for tf in ROLLED}
    for r in rows:
        out[Timeframe(r[0])].append((to_ms(r[1]), *r[2:]))
    return out


async def assert_rollups_match(pool: asyncpg.Pool, symbol: str) -> None:
    want, got = await expected(pool, symbol), await stored(pool, symbol)
    for tf in ROLLED:
        assert got[tf] == want[tf], tf.value
    assert await pool.fetchval("SELECT count(*) FROM candle_changes") == 0


async def write(connection: asyncpg.Connection, symbol: str, rows: list[list[Any]]) -> int:
    return await candle_writes.copy_upsert(
        connection, candle_writes.staged_rows(spot(symbol), rows, FAR_FUTURE)
    )


async def test_batches_in_order_store_every_closed_bucket_as_it_completes(
    clean_db: asyncpg.Pool,
) -> None:
    async with clean_db.acquire() as connection:
        # Three days in uneven batches, as a backfill writes them; buckets straddle batches.
        for first, count in ((0, 1000), (1000, 7), (1007, 2333), (3340, 980)):
            assert await write(connection, "AAAUSDT", klines(first, count)) == count
            await assert_rollups_match(clean_db, "AAAUSDT")
    days = await stored(clean_db, "AAAUSDT")
    assert [row[0] for row in days[Timeframe.DAY_1]] == [
        BASE + d * 1440 * MINUTE_MS for d in range(3)
    ]
    assert len(days[Timeframe.MINUTE_3]) == 4320 // 3  # 4,320 minutes, all closed


async def test_a_correction_far_back_re_stores_its_buckets_and_an_identical_batch_nothing(
    clean_db: asyncpg.Pool,
) -> None:
    async with clean_db.acquire() as connection:
        await write(connection, "AAAUSDT", klines(0, 3000))
        before = await stored(clean_db, "AAAUSDT")
        assert await write(connection, "AAAUSDT", klines(0, 3000)) == 0
        assert await stored(clean_db, "AAAUSDT") == before
        # One minute revised (the audit refilling, the exchange correcting): a new high.
        revised = kline(BASE + 61 * MINUTE_MS, close="99")
        revised[2] = "99"
        assert await write(connection, "AAAUSDT", [revised]) == 1
    await assert_rollups_match(clean_db, "AAAUSDT")
    after = await stored(clean_db, "AAAUSDT")
    # Two days and two hours: every timeframe up to 1D has closed buckets, 1W and 1M none.
    closed = [tf for tf in ROLLED if before[tf]]
    assert closed == [tf for tf in ROLLED if tf not in (Timeframe.WEEK_1, Timeframe.MONTH_1)]
    for tf in closed:  # the minute's bucket of each timeframe changed, nothing else
        assert sum(a != b for a, b in zip(after[tf], before[tf], strict=True)) == 1, tf.value


async def test_two_symbols_in_one_batch_and_a_batch_that_only_logs(
    clean_db: asyncpg.Pool,
) -> None:
    rows = candle_writes.staged_rows(spot("BBBUSDT"), klines(0, 300), FAR_FUTURE)
    rows += candle_writes.staged_rows(spot("AAAUSDT"), klines(100, 200), FAR_FUTURE)
    async with clean_db.acquire() as connection:
        assert await candle_writes.copy_upsert(connection, rows) == 500
        await assert_rollups_match(clean_db, "AAAUSDT")
        await assert_rollups_match(clean_db, "BBBUSDT")
        # Asked not to roll up, the write leaves its range to the maintainer instead.
        late = candle_writes.staged_rows(spot("AAAUSDT"), klines(300, 60), FAR_FUTURE)
        assert await candle_writes.copy_upsert(connection, late, rollups=False) == 60
    assert (
        await clean_db.fetchval(
            "SELECT count(*) FROM candle_rollups WHERE symbol = 'AAAUSDT' AND open_time >= $1",
            to_datetime(BASE + 300 * MINUTE_MS),
        )
        == 0
    )
    assert [r[0] for r in await clean_db.fetch("SELECT symbol FROM candle_changes")] == ["AAAUSDT"]


async def test_a_backfill_and_an_audit_refill_leave_the_rollups_complete(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), seed=11)
    harness = make_collector(sim, backfill_batch_rows=1000)
    await harness.backfill()
    for symbol in ("BTCUSDT", "ETHUSDT"):
        await assert_rollups_match(clean_db, symbol)
    assert await clean_db.fetchval("SELECT count(*) FROM candles") > 2 * 1440
    # Lose an hour 29 hours back (rollups stay, as after a crash of some other writer) and
    # let the audit refill it: the rollups it touches are re-stored from the refilled hour.
    newest = await clean_db.fetchval("SELECT max(open_time) FROM candles WHERE symbol = 'BTCUSDT'")
    await clean_db.execute(
        "DELETE FROM candles WHERE symbol = 'BTCUSDT' AND open_time >= $1::timestamptz - interval "
        "'30 hours' AND open_time < $1::timestamptz - interval '29 hours'",
        newest,
    )
    restored, _ = await audit_market(harness.rest, clean_db, spot("BTCUSDT"))
    assert restored == 60
    await assert_rollups_match(clean_db, "BTCUSDT")
