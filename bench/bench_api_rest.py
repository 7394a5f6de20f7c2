"""REST benchmark of the api-server: p50/p99 latency and requests/s for /candles at several
timeframes and limits, at concurrency 1 and 32, next to a hello-world Starlette endpoint
measured in the same run as the machine's ceiling.

    python bench/bench_api_seed.py          # once: 5 symbols x 1 year, rollups built
    python bench/bench_api_rest.py [--seconds 3]

Both servers run as `uvicorn` subprocesses (one worker each, uvloop + httptools); the load
generator is a minimal keep-alive HTTP/1.1 client so that it costs less CPU than httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from support import concurrent_load, server_env, start_server

from devstack.ports import free_port

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/linkora_bench_api"
TIMEFRAMES = ("1", "15", "1H", "4H", "1D", "1W", "1M")
LIMITS = (100, 1000)
CONCURRENCY = (1, 32)
HERE = Path(__file__).resolve().parent


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument(
        "--no-cache", action="store_true", help="compute every response (no page cache at all)"
    )
    args = parser.parse_args()
    dsn = os.environ.get("LINKORA_BENCH_API_DSN", DEFAULT_DSN)
    api_port, hello_port = free_port(), free_port()
    env = server_env(dsn, api_port)
    if args.no_cache:
        env.update({"CANDLE_CACHE_SECONDS": "0", "CANDLE_LIVE_CACHE_SECONDS": "0"})
    api = start_server([sys.executable, "-m", "api_server"], env, api_port)
    hello = start_server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(HERE),
            "bench_hello_app:app",
            "--port",
            str(hello_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        dict(os.environ),
        hello_port,
    )
    try:
        print(f"{'case':40} {'conc':>4} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        cases = [("hello-world", hello_port, "/")] + [
            (
                f"/candles tf={tf} limit={limit}",
                api_port,
                f"/candles?symbol={args.symbol}&timeframe={tf}&limit={limit}",
            )
            for limit in LIMITS
            for tf in TIMEFRAMES
        ]
        for name, port, path in cases:
            for concurrency in CONCURRENCY:
                result = await concurrent_load(port, path, concurrency, args.seconds)
                print(
                    f"{name:40} {concurrency:>4} {result['p50']:>8.2f} {result['p99']:>8.2f} "
                    f"{result['rps']:>8.0f}"
                    + (f"  errors={result['errors']:.0f}" if result["errors"] else ""),
                    flush=True,
                )
    finally:
        for process in (api, hello):
            process.terminate()
            process.wait(15)


if __name__ == "__main__":
    asyncio.run(main())
