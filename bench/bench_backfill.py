"""Backfill benchmark: N symbols x D days of 1m candles from the simulator into PostgreSQL.

    python bench/bench_backfill.py                 # 5 symbols x 365 days (2.6M candles)
    python bench/bench_backfill.py --symbols 2 --days 30

Runs `python -m exchange_sim` as its own process, backfills with the collector's own code
into a fresh database `linkora_bench` (on LINKORA_BENCH_PG_DSN, default the local server),
then COPYs the very same rows into the same (emptied) table as the baseline, and prints
candles/s for both and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from data_collector.collector import Collector
from data_collector.publisher import Publisher
from data_collector.rest import BinanceRest
from data_collector.settings import CollectorSettings
from data_collector.weights import WeightBudget
from devstack.ports import free_port, wait_listening
from exchange_sim.config import KNOWN
from linkora_core import bus, db

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "linkora_bench"


def start_sim(
    symbols: list[str], start: str, weight_limit: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "exchange_sim", "--port", str(port), "--symbols", ",".join(symbols),
         "--start", start, "--weight-limit", str(weight_limit)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    if not wait_listening(port, 30):
        process.kill()
        raise RuntimeError("exchange_sim did not start")
    return process, f"127.0.0.1:{port}"


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a running child, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(args: argparse.Namespace) -> None:
    symbols = list(KNOWN)[: args.symbols]
    today = time.time_ns() // 86_400_000_000_000
    start_day = today - args.days
    start = datetime.fromtimestamp(start_day * 86_400, UTC).strftime("%Y-%m-%d")
    dsn = await db.recreate_database(args.dsn, BENCH_DB)
    pool = await db.connect_pool(dsn, min_size=2, max_size=4)
    sim, address = start_sim(symbols, start, args.weight_limit)
    redis = bus.connect("redis://127.0.0.1:1/0")  # never used: the backfill publishes nothing
    try:
        settings = CollectorSettings(
            _env_file=None,  # type: ignore[call-arg]
            binance_base_url=f"http://{address}",
            symbols=",".join(symbols),  # type: ignore[arg-type]
            start_date=start,  # type: ignore[arg-type]
            backfill_concurrency=args.concurrency,
            backfill_batch_rows=args.batch_rows,
            backfill_writers=args.writers,
        )
        async with aiohttp.ClientSession() as session:
            rest = BinanceRest(
                session,
                settings.binance_base_url,
                WeightBudget(6000, settings.weight_budget_fraction),
            )
            collector = Collector(settings, pool, {rest.venue: rest}, session, Publisher(redis))
            await collector.prepare()
            started = time.perf_counter()
            await collector.backfill_all()
            elapsed = time.perf_counter() - started
        sim_cpu = process_cpu_seconds(sim.pid)
        own_cpu = resource.getrusage(resource.RUSAGE_SELF)
        rows = int(await pool.fetchval("SELECT count(*) FROM candles"))
        collector_rate = rows / elapsed
        print(
            f"collector: {rows:,} candles in {elapsed:.1f}s = {collector_rate:,.0f} candles/s "
            f"({rest.requests} requests, weight {rest.weight_sent})"
        )
        print(
            f"CPU so far: collector {own_cpu.ru_utime + own_cpu.ru_stime:.1f}s, "
            f"simulator {sim_cpu:.1f}s (2 cores shared with PostgreSQL)"
        )

        buffer = io.BytesIO()
        async with pool.acquire() as connection:
            await connection.copy_from_table("candles", output=buffer, format="binary")
            await connection.execute("TRUNCATE candles")
            payload = buffer.getvalue()
            started = time.perf_counter()
            await connection.copy_to_table("candles", source=io.BytesIO(payload), format="binary")
            copy_elapsed = time.perf_counter() - started
        copy_rate = rows / copy_elapsed
        print(f"plain COPY: {rows:,} candles in {copy_elapsed:.1f}s = {copy_rate:,.0f} candles/s")
        print(f"ratio collector / plain COPY: {collector_rate / copy_rate:.2f}")
    finally:
        sim.terminate()
        sim.wait(10)
        await redis.aclose()
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5, help="how many symbols (max 11)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--dsn", default=os.environ.get("LINKORA_BENCH_PG_DSN", DEFAULT_DSN))
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight per symbol")
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--writers", type=int, default=2, help="database writers in parallel")
    # Binance's 6000/min allows 3M candles/min (2.4M at the 80% pacing); a higher simulator
    # limit measures the pipeline itself rather than the exchange's ceiling.
    parser.add_argument("--weight-limit", type=int, default=100_000)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
