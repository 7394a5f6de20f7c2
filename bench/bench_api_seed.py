"""Seed a benchmark database with N symbols x D days of 1m candles ending now (the newest
minute still open), then build every rollup with the api-server's own maintainer code.

    python bench/bench_api_seed.py                       # 5 symbols x 365 days (2.6M rows)
    python bench/bench_api_seed.py --symbols 1 --days 30

Database: `linkora_bench_api` on LINKORA_BENCH_PG_DSN (default the local server), recreated.
Prints rows/s for the COPY and the time the rollup catch-up took.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from api_server.rollups import roll_symbol
from linkora_core import db
from linkora_core.migrations import apply_migrations

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "linkora_bench_api"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
_CENT = Decimal("0.01")


def walk(symbol: str, start: datetime, minutes: int, seed: int) -> list[tuple[object, ...]]:
    """A seeded random walk, every tenth minute a zero-trade placeholder."""
    rng = random.Random(seed)
    price = Decimal(rng.randint(100, 50_000))
    rows: list[tuple[object, ...]] = []
    for i in range(minutes):
        at = start + timedelta(minutes=i)
        is_closed = i < minutes - 1
        if i % 10 == 9:
            rows.append(
                (
                    symbol,
                    at,
                    price,
                    price,
                    price,
                    price,
                    Decimal(0),
                    Decimal(0),
                    0,
                    Decimal(0),
                    Decimal(0),
                    is_closed,
                )
            )
            continue
        open_ = price
        close = max(_CENT, (price * Decimal(1 + rng.gauss(0, 0.001))).quantize(_CENT))
        high = max(open_, close) + Decimal(rng.randint(0, 50)) / 100
        low = max(Decimal(0), min(open_, close) - Decimal(rng.randint(0, 50)) / 100)
        volume = Decimal(rng.randint(1, 10**8)) / 10**5
        quote = (volume * close).quantize(Decimal("0.00000001"))
        rows.append(
            (
                symbol,
                at,
                open_,
                high,
                low,
                close,
                volume,
                quote,
                rng.randint(1, 900),
                volume / 2,
                quote / 2,
                is_closed,
            )
        )
        price = close
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    dsn = await db.recreate_database(os.environ.get("LINKORA_BENCH_PG_DSN", DEFAULT_DSN), BENCH_DB)
    connection = await asyncpg.connect(dsn)
    try:
        await apply_migrations(connection)
        minutes = args.days * 1440
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        start = now - timedelta(minutes=minutes - 1)
        total, began = 0, time.perf_counter()
        for n, symbol in enumerate(SYMBOLS[: args.symbols]):
            rows = walk(symbol, start, minutes, n)
            await connection.copy_records_to_table(
                "candles",
                records=rows,
                columns=[
                    "symbol",
                    "open_time",
                    "open_price",
                    "high_price",
                    "low_price",
                    "close_price",
                    "volume",
                    "quote_volume",
                    "trades",
                    "taker_buy_volume",
                    "taker_buy_quote_volume",
                    "is_closed",
                ],
            )
            total += len(rows)
        copied = time.perf_counter() - began
        print(f"seeded {total} minutes in {copied:.1f}s ({total / copied:,.0f} rows/s)")
        await connection.execute("ANALYZE candles")
        began = time.perf_counter()
        written = 0
        for symbol in SYMBOLS[: args.symbols]:
            written += await roll_symbol(connection, symbol)
        rolled = time.perf_counter() - began
        await connection.execute("ANALYZE candle_rollups")
        print(
            f"rollup catch-up: {written} buckets in {rolled:.1f}s ({total / rolled:,.0f} minutes/s)"
        )
        print(f"DSN {dsn}")
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
