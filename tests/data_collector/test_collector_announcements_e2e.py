"""The collector end to end against the simulator (issue 18): its backfill announces each
committed chunk once (together covering every minute stored, no kline flood), then real time
announces each closed minute and 5m bucket as stored, the price and the books throttled."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from collector_helpers import (
    FAST,
    MINUTE_MS,
    HarnessFactory,
    SimFactory,
    days_ago,
    lose_candles,
    spot,
)

from data_collector import audit
from linkora_core.epoch import to_ms
from tests.polling import eventually


async def bodies(pool: asyncpg.Pool, topic: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT body FROM outbox WHERE routing_key LIKE $1 ORDER BY id", f"crypto.{topic}.%"
    )
    return [orjson.loads(r["body"]) for r in rows]


async def stored(pool: asyncpg.Pool, open_ms: int) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT * FROM candles WHERE symbol = 'BTCUSDT' AND open_time = to_timestamp($1 / 1000.0)",
        open_ms,
    )
    assert row is not None and row["is_closed"]
    return dict(row)


async def test_backfill_chunks_then_live_closes_are_announced(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), start=days_ago(2), **FAST)
    harness = make_collector(
        sim, backfill_batch_rows=1000, broker_kline_timeframes="1,5", broker_price_interval=1.0
    )
    await harness.streaming()
    chunks = await bodies(clean_db, "historical")
    assert len(chunks) >= 2
    spans = sorted((c["first_open_time"], c["last_open_time"], c["count"]) for c in chunks)
    for (_, last, _), (first, _, _) in itertools.pairwise(spans):
        assert first > last  # chunks never overlap
    backfilled_to = spans[-1][1]
    in_backfill = await clean_db.fetchval(
        "SELECT count(*) FROM candles WHERE symbol = 'BTCUSDT' AND open_time <= $1",
        await clean_db.fetchval("SELECT to_timestamp($1 / 1000.0)", backfilled_to),
    )
    assert sum(count for _, _, count in spans) == in_backfill

    async def closed_live() -> bool:
        labels = [b["timeframe"] for b in await bodies(clean_db, "kline")]
        return labels.count("5") >= 2 and labels.count("1") >= 6

    await eventually(closed_live, within=60)
    klines = await bodies(clean_db, "kline")
    minutes = [b for b in klines if b["timeframe"] == "1"]
    # Real time announces only what closed after the backfill: no flood of history.
    assert all(b["timestamp"] >= backfilled_to for b in minutes)
    assert all(b["close_time"] > backfilled_to for b in klines)
    assert len({b["timestamp"] for b in minutes}) == len(minutes) >= 5
    for body in minutes:
        row = await stored(clean_db, body["timestamp"])
        assert Decimal(body["close"]) == row["close_price"]
        assert Decimal(body["volume"]) == row["volume"] and body["trades"] == row["trades"]
    five = [b for b in klines if b["timeframe"] == "5"][1]
    inside = [
        b
        for b in minutes
        if five["timestamp"] <= b["timestamp"] < five["timestamp"] + 5 * MINUTE_MS
    ]
    assert len(inside) == 5  # the second bucket's minutes all closed live: sums are theirs
    assert Decimal(five["volume"]) == sum(Decimal(b["volume"]) for b in inside)

    prices = [b["timestamp"] for b in await bodies(clean_db, "price")]
    books = [b["timestamp"] for b in await bodies(clean_db, "orderbook")]
    assert prices and books
    assert all(b - a >= 1000 for a, b in itertools.pairwise(prices))
    assert all(b - a >= 1000 for a, b in itertools.pairwise(books))
    newest_book = await clean_db.fetchval(
        "SELECT max(captured_at) FROM orderbook_data WHERE symbol = 'BTCUSDT'"
    )
    assert to_ms(newest_book) in books


async def test_minutes_the_audit_restores_are_announced_as_a_historical_chunk(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    first = sim.source.stores["BTCUSDT"].series.first_ms
    harness = make_collector(sim)
    await harness.backfill()
    await clean_db.execute("TRUNCATE outbox")
    await lose_candles(clean_db, first + 2030 * MINUTE_MS, start_ms=first + 2000 * MINUTE_MS)
    market = spot("BTCUSDT")
    assert await audit.audit_market(harness.rest, clean_db, market, historical=True) == (30, 0)
    [chunk] = await bodies(clean_db, "historical")
    assert (chunk["first_open_time"], chunk["last_open_time"], chunk["count"]) == (
        first + 2000 * MINUTE_MS, first + 2029 * MINUTE_MS, 30,
    )  # fmt: skip
    assert await bodies(clean_db, "kline") == []
