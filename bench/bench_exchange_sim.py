"""How fast exchange_sim serves 1m klines: 5 symbols x 1 year of 1000-row pages.

The server runs in its own process (one core, as `python -m exchange_sim`); this process
pages through every symbol with startTime = last open + 60000, like the collector, and
counts rows without decoding them. Pass 1 is cold (data generated and serialized on
demand), pass 2 is served from the chunk cache. Also measures the in-process page path
without HTTP.

    .venv/bin/python bench/bench_exchange_sim.py [--days 365] [--concurrency 5]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
from datetime import UTC, datetime, timedelta

import aiohttp

from exchange_sim.clock import SimClock
from exchange_sim.config import SimConfig
from exchange_sim.klines import KlineQuery
from exchange_sim.market import MarketData

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT")
DAY_MS = 86_400_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def fetch_symbol(
    session: aiohttp.ClientSession, url: str, symbol: str, start: int, end: int
) -> tuple[int, int]:
    rows = requests = 0
    cursor = start
    while cursor < end:
        params = {"symbol": symbol, "interval": "1m", "startTime": str(cursor), "limit": "1000"}
        async with session.get(f"{url}/api/v3/klines", params=params) as resp:
            resp.raise_for_status()
            body = await resp.read()
        requests += 1
        n = body.count(b"[") - 1
        if n <= 0:
            break
        rows += n
        last_open = int(body[body.rfind(b"[") + 1 : body.find(b",", body.rfind(b"["))])
        cursor = last_open + 60_000
    return rows, requests


async def one_pass(url: str, start: int, end: int, concurrency: int) -> tuple[int, int, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        sem = asyncio.Semaphore(concurrency)

        async def run(symbol: str) -> tuple[int, int]:
            async with sem:
                return await fetch_symbol(session, url, symbol, start, end)

        t0 = time.perf_counter()
        results = await asyncio.gather(*(run(s) for s in SYMBOLS))
        elapsed = time.perf_counter() - t0
    return sum(r for r, _ in results), sum(q for _, q in results), elapsed


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.get(f"{url}/api/v3/ping") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


def in_process(start_day: str, start: int, end: int) -> float:
    """Cold page serving without HTTP: generation + serialization + slicing."""
    config = SimConfig(symbols=("BTCUSDT",), start=start_day, cache_chunks=4096)
    market = MarketData.from_config(config, SimClock().now_ms)
    rows, cursor, t0 = 0, start, time.perf_counter()
    while cursor < end:
        body = market.page(KlineQuery("BTCUSDT", "1m", cursor, None, 1000))
        rows += body.count(b"[") - 1
        cursor += 1000 * 60_000
    return rows / (time.perf_counter() - t0)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--concurrency", type=int, default=5)
    args = ap.parse_args()
    first = (datetime.now(UTC) - timedelta(days=args.days + 1)).date()
    start = int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()) * 1000
    end = start + args.days * DAY_MS

    rate = in_process(first.isoformat(), start, start + args.days // 5 * DAY_MS)
    print(f"in-process pages, 1 symbol x {args.days // 5} days, cold: {rate:,.0f} klines/s")

    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "exchange_sim", "--port", str(port), "--start", first.isoformat()),
        *("--symbols", ",".join(SYMBOLS), "--weight-limit", "1000000000"),
        stdout=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url)
        for label in ("cold (generate + serialize)", "warm (cached chunks)"):
            rows, requests, elapsed = await one_pass(url, start, end, args.concurrency)
            print(
                f"HTTP {label}: {rows:,} klines in {requests:,} requests, {elapsed:.2f} s"
                f" -> {rows / elapsed:,.0f} klines/s"
            )
    finally:
        proc.terminate()
        await proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
