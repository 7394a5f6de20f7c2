"""Seed a benchmark database with N symbols x D days of 1m candles ending now (the newest
minute still open), then build every rollup with the api-server's own maintainer code.

    python bench/bench_api_seed.py                       # 5 symbols x 365 days (2.6M rows)
    python bench/bench_api_seed.py --symbols 1 --days 30
    python bench/bench_api_seed.py --catch-up [--after 5]

Database: `linkora_bench_api` on LINKORA_BENCH_PG_DSN (default the local server), recreated.
Prints rows/s of the COPY (the COPY calls alone, not making the rows), minutes/s of the rollup
build (one maintainer pass over every symbol and timeframe) and their ratio.

`--catch-up` leaves the build to an api-server process started right after the COPY (page
cache off) and, while its maintainer builds, requests `/candles?limit=1000` of every timeframe
(the symbols in turn), one at a time; it prints p50/p99/max per timeframe during the build and
for `--after` seconds after it (the same requests with nothing building), and the build's time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
from candle_latency import measure, print_table
from support import server_env, start_server

from api_server.rollups import RollupMaintainer
from devstack.ports import free_port
from linkora_core import db, rollup_sql
from linkora_core.markets import BINANCE_SPOT, Market
from linkora_core.migrations import apply_migrations
from linkora_core.rollup_passes import ROLLED

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


async def copy_minutes(
    connection: asyncpg.Connection, symbols: tuple[str, ...], days: int
) -> tuple[int, float]:
    """COPY every symbol's minutes; returns how many and the seconds the COPY calls took."""
    minutes = days * 1440
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=minutes - 1)
    total, copying = 0, 0.0
    for n, symbol in enumerate(symbols):
        rows = walk(symbol, start, minutes, n)
        began = time.perf_counter()
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
        copying += time.perf_counter() - began
        total += len(rows)
    return total, copying


async def build(connection: asyncpg.Connection) -> tuple[int, float]:
    """One maintainer pass (every symbol, every timeframe), as the api-server runs it."""
    began = time.perf_counter()
    written = await RollupMaintainer("unused").cycle(connection)
    return written, time.perf_counter() - began


async def rolled_up(connection: asyncpg.Connection, symbols: tuple[str, ...]) -> bool:
    """Every closed bucket of every symbol and timeframe is stored."""
    for symbol in symbols:
        horizon = await rollup_sql.closed_horizon(connection, Market(BINANCE_SPOT, symbol))
        first = await rollup_sql.first_minute(connection, Market(BINANCE_SPOT, symbol))
        if horizon is None or first is None:
            continue
        frontiers = await rollup_sql.rolled_until(connection, Market(BINANCE_SPOT, symbol), ROLLED)
        for timeframe, frontier in frontiers.items():
            stored = timeframe.bucket_start(first) if frontier is None else frontier
            if stored < timeframe.bucket_start(horizon):
                return False
    return True


async def catch_up(dsn: str, symbols: tuple[str, ...], total: int, after: float) -> None:
    """Start an api-server now (nothing rolled up) and measure /candles while it builds, then
    for `after` seconds once everything is stored (the same requests, nothing building)."""
    port = free_port()
    env = server_env(dsn, port)
    env.update({"CANDLE_CACHE_SECONDS": "0", "CANDLE_LIVE_CACHE_SECONDS": "0"})
    began = time.perf_counter()
    server = start_server([sys.executable, "-m", "api_server"], env, port)
    listening = time.perf_counter() - began
    done_at = 0.0
    watcher = await asyncpg.connect(dsn)

    async def built() -> bool:
        nonlocal done_at
        done_at = time.perf_counter() - began
        return await rolled_up(watcher, symbols)

    try:
        during, later, errors = await measure(port, symbols, ROLLED, built, after)
    finally:
        await watcher.close()
        server.terminate()
        server.wait(15)
    print(
        f"catch-up: server listening after {listening:.1f}s, every rollup stored after "
        f"{done_at:.1f}s ({total / done_at:,.0f} minutes/s, server start included)"
    )
    print_table(during, later, errors, "during the build")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--catch-up",
        action="store_true",
        help="build the rollups in an api-server started after the COPY; measure /candles",
    )
    parser.add_argument(
        "--after", type=float, default=5.0, help="seconds measured once the build is done"
    )
    args = parser.parse_args()
    symbols = SYMBOLS[: args.symbols]
    dsn = await db.recreate_database(os.environ.get("LINKORA_BENCH_PG_DSN", DEFAULT_DSN), BENCH_DB)
    connection = await asyncpg.connect(dsn)
    try:
        await apply_migrations(connection)
        total, copied = await copy_minutes(connection, symbols, args.days)
        copy_rate = total / copied
        print(f"COPY: {total} minutes in {copied:.1f}s ({copy_rate:,.0f} minutes/s)")
        await connection.execute("ANALYZE candles")
        if args.catch_up:
            await catch_up(dsn, symbols, total, args.after)
        else:
            written, rolled = await build(connection)
            rate = total / rolled
            print(
                f"rollup build: {written} buckets of {len(ROLLED)} timeframes in {rolled:.1f}s "
                f"({rate:,.0f} minutes/s, {rate / copy_rate:.2f}x the COPY)"
            )
        await connection.execute("ANALYZE candle_rollups")
        print(f"DSN {dsn}")
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
