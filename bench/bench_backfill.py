"""Backfill benchmark: N symbols x D days of 1m candles from the simulator into PostgreSQL.

    python bench/bench_backfill.py                 # 5 symbols x 365 days (2.6M candles)
    python bench/bench_backfill.py --symbols 2 --days 30

Runs `python -m exchange_sim` as its own process, backfills with the collector's own code
into a fresh database `linkora_bench` (on LINKORA_BENCH_PG_DSN, default the local server),
then COPYs the very same rows into the same (emptied) table as the baseline, and prints
candles/s for both and their ratio.

`--serve` also starts an api-server (page cache off) on that database before the backfill, and
a client in a process of its own requests `/candles?limit=1000` of every timeframe, one at a
time, while the backfill runs and for `--after` seconds after it: p50/p99/max per timeframe.
The user's case of issue 15: `make up` with a START_DATE a year back, the chart opened at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import aiohttp
from backfill_support import days_ago, print_copy_baselines, start_sim
from candle_latency import ProbeProcess, print_table
from cpu_use import own_cpu, process_cpu
from support import server_env, start_server

from data_collector.collector import Collector
from data_collector.publisher import Publisher
from data_collector.rest import BinanceRest
from data_collector.settings import CollectorSettings
from data_collector.weights import WeightBudget
from devstack.ports import free_port
from exchange_sim.config import KNOWN
from linkora_core import bus, db
from linkora_core.timeframes import Timeframe

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "linkora_bench"


async def run(args: argparse.Namespace) -> None:
    symbols = list(KNOWN)[: args.symbols]
    start = days_ago(args.days)
    dsn = await db.recreate_database(args.dsn, BENCH_DB)
    pool = await db.connect_pool(dsn, min_size=2, max_size=4)
    sim, address = start_sim(symbols, start, ["--weight-limit", str(args.weight_limit)])
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
            server, probe = _serve(dsn, symbols, args.after) if args.serve else (None, None)
            started = time.perf_counter()
            await collector.backfill_all()
            elapsed = time.perf_counter() - started
        if server is not None and probe is not None:
            during, later, errors = probe.finish()
            server.terminate()
            server.wait(15)
            print_table(during, later, errors, "during the backfill")
        sim_cpu = process_cpu(sim.pid)
        rows = int(await pool.fetchval("SELECT count(*) FROM candles"))
        collector_rate = rows / elapsed
        print(
            f"collector: {rows:,} candles in {elapsed:.1f}s = {collector_rate:,.0f} candles/s "
            f"({rest.requests} requests, weight {rest.weight_sent})"
        )
        print(
            f"CPU so far: collector {own_cpu():.1f}s, "
            f"simulator {sim_cpu:.1f}s (2 cores shared with PostgreSQL)"
        )

        await print_copy_baselines(pool, rows, {"collector": collector_rate})
    finally:
        sim.terminate()
        sim.wait(10)
        await redis.aclose()
        await pool.close()


def _serve(
    dsn: str, symbols: list[str], after: float
) -> tuple[subprocess.Popen[bytes], ProbeProcess]:
    """An api-server on the benchmark's database (page cache off), and the client timing it."""
    port = free_port()
    env = server_env(dsn, port) | {"CANDLE_CACHE_SECONDS": "0", "CANDLE_LIVE_CACHE_SECONDS": "0"}
    server = start_server([sys.executable, "-m", "api_server"], env, port)
    return server, ProbeProcess(port, symbols, list(Timeframe), after)


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
    parser.add_argument(
        "--serve", action="store_true", help="time /candles of an api-server during the backfill"
    )
    parser.add_argument("--after", type=float, default=5.0, help="seconds timed after it")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
