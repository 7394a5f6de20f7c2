"""Helpers for the rollup tests: minutes written the way the collector writes them (with their
`candle_changes` row, in one transaction) and every stored rollup compared with the reference
aggregation of the stored minutes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg
from api_helpers import as_market, minute, reference_candles, reference_start

from api_server import candle_store
from data_collector import candle_writes as collector_store
from linkora_core import rollup_sql
from linkora_core.candle_columns import VALUES
from linkora_core.candles import Candle, LiveCandle
from linkora_core.decimals import plain_or_null, to_plain
from linkora_core.epoch import to_ms
from linkora_core.markets import Market
from linkora_core.timeframes import MINUTE_MS, Timeframe

LABELS = ("3", "5", "15", "30", "45", "1H", "2H", "3H", "4H", "1D", "1W", "1M")
_FAR_FUTURE = 10**14


def series(lo: int, hi: int, seed: int) -> list[Candle]:
    """Minutes in [lo, hi) of a seeded random walk, some with no trades (at the last close)."""
    rng = random.Random(seed)
    price = Decimal(rng.randint(1000, 5000)) / 10
    out: list[Candle] = []
    for at in range(lo, hi, MINUTE_MS):
        if rng.random() < 0.05:
            p = str(price)
            out.append(minute(at, p, p, p, p, volume="0", trades=0))
            continue
        open_ = price
        close = max(Decimal("0.1"), open_ + Decimal(rng.randint(-20, 20)) / 10)
        high = max(open_, close) + Decimal(rng.randint(0, 9)) / 100
        low = max(Decimal(0), min(open_, close) - Decimal(rng.randint(0, 9)) / 100)
        volume = str(Decimal(rng.randint(1, 10**6)) / 10**4)
        trades = rng.randint(1, 40)
        out.append(minute(at, str(open_), str(high), str(low), str(close), volume, trades))
        price = close
    return out


async def write_live(
    pool: asyncpg.Pool,
    market: Market | str,
    minutes: Sequence[Candle],
    *,
    open_from: int | None = None,
) -> None:
    """The collector's live writer; minutes at or after `open_from` are still open."""
    where = as_market(market)
    await collector_store.upsert_live(
        pool,
        [LiveCandle(where, m, open_from is None or m.open_time_ms < open_from) for m in minutes],
    )


async def write_bulk(
    pool: asyncpg.Pool, market: Market | str, minutes: Sequence[Candle], *, rollups: bool = False
) -> None:
    """The collector's backfill/audit writer (COPY + upsert), every minute closed; by default
    logging the change for the maintainer, as collectors before the inline rollups did."""
    page = [
        [
            m.open_time_ms,
            to_plain(m.open),
            to_plain(m.high),
            to_plain(m.low),
            to_plain(m.close),
            to_plain(m.volume),
            m.close_time_ms,
            to_plain(m.quote_volume),
            m.trades,
            plain_or_null(m.taker_buy_volume),
            plain_or_null(m.taker_buy_quote_volume),
        ]
        for m in minutes
    ]
    async with pool.acquire() as connection:
        await collector_store.copy_upsert(
            connection,
            collector_store.staged_rows(as_market(market), page, _FAR_FUTURE),
            rollups=rollups,
        )


async def stored_minutes(pool: asyncpg.Pool, market: Market | str) -> tuple[list[Candle], int]:
    """Every stored minute, and the closed horizon (end of the newest closed minute)."""
    where = as_market(market)
    minutes = await candle_store.read_range(pool, where, Timeframe.MINUTE_1, None, None)
    horizon = await rollup_sql.closed_horizon(pool, where)
    assert horizon is not None, f"no closed minute of {where}"
    return minutes, horizon


async def stored_rollups(
    pool: asyncpg.Pool, market: Market | str, label: str
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"SELECT open_time, {VALUES} FROM candle_rollups WHERE venue = $1 AND symbol = $2 "
        "AND timeframe = $3 ORDER BY open_time",
        *rollup_sql.key(as_market(market)),
        label,
    )
    return [{"timestamp": to_ms(r[0]), **{k: v for k, v in list(r.items())[1:]}} for r in rows]


async def expected_rollups(
    pool: asyncpg.Pool, market: Market | str
) -> dict[str, list[dict[str, Any]]]:
    """Per timeframe, the reference aggregation of the stored minutes, closed buckets only."""
    minutes, horizon = await stored_minutes(pool, market)
    return {
        label: [
            bucket
            for bucket in reference_candles(minutes, label)
            if bucket["timestamp"] < reference_start(label, horizon)  # type: ignore[operator]
        ]
        for label in LABELS
    }


async def assert_rollups_equal_minutes(pool: asyncpg.Pool, market: Market | str) -> None:
    expected = await expected_rollups(pool, market)
    for label in LABELS:
        assert await stored_rollups(pool, market, label) == expected[label], label


async def all_rollups(pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        f"SELECT symbol, timeframe, open_time, {VALUES} FROM candle_rollups ORDER BY 1, 2, 3"
    )
    return [tuple(r) for r in rows]


async def change_log(pool: asyncpg.Pool) -> list[tuple[str, int, int]]:
    rows = await pool.fetch(
        "SELECT symbol, first_open_time, last_open_time FROM candle_changes ORDER BY 1, 2, 3"
    )
    return [(r[0], to_ms(r[1]), to_ms(r[2])) for r in rows]
