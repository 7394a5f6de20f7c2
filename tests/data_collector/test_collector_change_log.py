"""A live write of minutes, and a bulk write asked not to store rollups, records the range it
touched in `candle_changes`, in the same transaction: one row per symbol per write, none for a
write that changed nothing or failed. (Bulk writes that store their rollups:
test_collector_rollups.py.)"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from collector_helpers import MINUTE_MS, spot

from data_collector import candle_writes
from linkora_core.candles import Candle, LiveCandle

BASE = 1_709_251_200_000  # 2024-03-01T00:00Z
FAR_FUTURE = BASE + 10**12  # "now" for staged rows: every minute closed


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000


def kline(open_ms: int, close: str = "10", volume: str = "1") -> list[Any]:
    """A raw Binance kline row (strings, as the REST API sends them)."""
    return [open_ms, "10", "12", "9", close, volume, open_ms + MINUTE_MS - 1, "10", 3, "0.5", "5"]


def live(symbol: str, open_ms: int, close: str, *, closed: bool) -> LiveCandle:
    price = Decimal(close)
    candle = Candle(
        open_time_ms=open_ms,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
        quote_volume=price,
        trades=1,
        taker_buy_volume=Decimal("0.5"),
        taker_buy_quote_volume=price / 2,
    )
    return LiveCandle(spot(symbol), candle, closed)


async def logged(pool: asyncpg.Pool) -> list[tuple[str, int, int]]:
    rows = await pool.fetch(
        "SELECT symbol, (extract(epoch FROM first_open_time) * 1000)::bigint, "
        "(extract(epoch FROM last_open_time) * 1000)::bigint FROM candle_changes ORDER BY id"
    )
    return [(r[0], r[1], r[2]) for r in rows]


@pytest.fixture
async def db(clean_db: asyncpg.Pool) -> asyncpg.Pool:
    await clean_db.execute("TRUNCATE candle_changes")
    return clean_db


async def test_a_batch_logs_one_range_per_symbol_and_an_unchanged_batch_nothing(
    db: asyncpg.Pool,
) -> None:
    rows = candle_writes.staged_rows(
        spot("AAAUSDT"), [kline(BASE + i * MINUTE_MS) for i in range(50)], 0
    )
    rows += candle_writes.staged_rows(
        spot("BBBUSDT"), [kline(BASE + i * MINUTE_MS) for i in range(20, 30)], FAR_FUTURE
    )
    async with db.acquire() as connection:
        assert await candle_writes.copy_upsert(connection, rows, rollups=False) == 60
        assert sorted(await logged(db)) == [
            ("AAAUSDT", BASE, BASE + 49 * MINUTE_MS),
            ("BBBUSDT", BASE + 20 * MINUTE_MS, BASE + 29 * MINUTE_MS),
        ]
        await db.execute("TRUNCATE candle_changes")
        # The same rows again (the upsert path): nothing changes, nothing is logged.
        assert await candle_writes.copy_upsert(connection, rows, rollups=False) == 0
        assert await logged(db) == []
        # A correction far back (the audit refilling, Binance revising a minute).
        fixed = candle_writes.staged_rows(
            spot("AAAUSDT"), [kline(BASE + 7 * MINUTE_MS, close="11")], FAR_FUTURE
        )
        assert await candle_writes.copy_upsert(connection, fixed, rollups=False) == 1
    assert await logged(db) == [("AAAUSDT", BASE + 7 * MINUTE_MS, BASE + 7 * MINUTE_MS)]


async def test_live_upserts_log_their_closed_minutes_in_one_row_per_symbol(
    db: asyncpg.Pool,
) -> None:
    await candle_writes.upsert_live(
        db,
        [
            live("AAAUSDT", BASE, "10", closed=True),
            live("AAAUSDT", BASE + 2 * MINUTE_MS, "11", closed=True),
            live("AAAUSDT", BASE + 3 * MINUTE_MS, "11", closed=False),
            live("BBBUSDT", BASE + 5 * MINUTE_MS, "12", closed=False),
        ],
    )
    # The open minutes are stored but not logged: the writes that close them will be.
    assert await db.fetchval("SELECT count(*) FROM candles") == 4
    assert await logged(db) == [("AAAUSDT", BASE, BASE + 2 * MINUTE_MS)]
    await candle_writes.upsert_live(db, [live("BBBUSDT", BASE + 5 * MINUTE_MS, "13", closed=False)])
    await candle_writes.upsert_live(db, [])
    assert len(await logged(db)) == 1
    await candle_writes.upsert_live(db, [live("BBBUSDT", BASE + 5 * MINUTE_MS, "13", closed=True)])
    assert sorted(await logged(db))[-1] == ("BBBUSDT", BASE + 5 * MINUTE_MS, BASE + 5 * MINUTE_MS)


async def test_a_refused_write_logs_nothing_and_a_failed_log_writes_no_minute(
    db: asyncpg.Pool,
) -> None:
    bad = kline(BASE)
    bad[4] = "-1"  # a negative close: the CHECK refuses the whole batch
    rows = candle_writes.staged_rows(spot("AAAUSDT"), [kline(BASE + MINUTE_MS), bad], FAR_FUTURE)
    async with db.acquire() as connection:
        with pytest.raises(asyncpg.CheckViolationError):
            await candle_writes.copy_upsert(connection, rows, rollups=False)
    assert await db.fetchval("SELECT count(*) FROM candles") == 0
    assert await logged(db) == []
    # The other way round: the log row is refused (a constraint standing in for any failure
    # after the minutes were written), and the minutes go with it.
    await db.execute(
        "ALTER TABLE candle_changes ADD CONSTRAINT test_refuse CHECK (symbol <> 'AAAUSDT')"
    )
    try:
        async with db.acquire() as connection:
            with pytest.raises(asyncpg.CheckViolationError):
                await candle_writes.copy_upsert(connection, rows[:1], rollups=False)
        with pytest.raises(asyncpg.CheckViolationError):
            await candle_writes.upsert_live(db, [live("AAAUSDT", BASE, "10", closed=True)])
    finally:
        await db.execute("ALTER TABLE candle_changes DROP CONSTRAINT test_refuse")
    assert await db.fetchval("SELECT count(*) FROM candles") == 0
