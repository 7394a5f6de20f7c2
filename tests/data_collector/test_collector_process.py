"""`python -m data_collector` as a real process against `python -m exchange_sim`."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from collector_helpers import MINUTE_MS, days_ago

from devstack.ports import free_port
from exchange_sim.config import SimConfig
from exchange_sim.server import SimServer
from tests.simulator_process import simulator

SYMBOLS = ("BTCUSDT", "ETHUSDT")
START = days_ago(40)


@pytest.fixture
def sim_process() -> Iterator[str]:
    with simulator(SYMBOLS, START, seed=11) as address:
        yield address


def start_collector(
    env: dict[str, str], address: str, log: Path, metrics_port: int = 0
) -> subprocess.Popen[bytes]:
    full = {
        **os.environ, **env,
        "BINANCE_BASE_URL": f"http://{address}", "BINANCE_STREAM_URL": f"ws://{address}",
        "SYMBOLS": ",".join(SYMBOLS), "START_DATE": START, "AUDIT_INTERVAL": "0",
        "BACKFILL_BATCH_ROWS": "5000", "BACKFILL_CONCURRENCY": "2",
        "METRICS_PORT": str(metrics_port),
    }  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "data_collector"], env=full,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM candles"))


async def wait_for(check: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_kill_9_mid_backfill_then_restart_leaves_no_gap_and_no_duplicate(
    sim_process: str, service_env: dict[str, str], clean_db: asyncpg.Pool, tmp_path: Path
) -> None:
    log = tmp_path / "collector.log"
    first = start_collector(service_env, sim_process, log)
    try:

        async def some() -> bool:
            return await count(clean_db) >= 10_000

        try:
            await wait_for(some, 60)
        except TimeoutError:
            raise AssertionError(log.read_text()[-3000:]) from None
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = await count(clean_db)
    assert killed_at < 2 * 40 * 1440  # really in the middle

    metrics_port = free_port()
    second = start_collector(service_env, sim_process, log, metrics_port)
    try:

        async def realtime() -> bool:
            phases = await clean_db.fetch("SELECT phase FROM collector_state")
            return len(phases) == 2 and all(p["phase"] == "realtime" for p in phases)

        try:
            await wait_for(realtime, 120)
        except TimeoutError:
            raise AssertionError(log.read_text()[-3000:]) from None
        await asyncio.sleep(1.0)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{metrics_port}/health") as response,
        ):
            health = await response.json()
        assert health["status"] == "healthy"
        assert {s["phase"] for s in health["symbols"].values()} == {"realtime"}
        # SIGTERM: flushes and exits promptly with status 0.
        started = time.monotonic()
        second.send_signal(signal.SIGTERM)
        assert second.wait(10) == 0
        assert time.monotonic() - started < 10
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()

    # Compare with the simulator's source: same seed and start generate the same minutes.
    async with SimServer(SimConfig(symbols=SYMBOLS, start=START, seed=11)) as reference:
        for symbol in SYMBOLS:
            rows = await clean_db.fetch(
                """SELECT open_time, close_price, volume, trades FROM candles
                   WHERE symbol = $1 AND is_closed ORDER BY open_time""",
                symbol,
            )
            times = [int(r["open_time"].timestamp()) * 1000 for r in rows]
            assert len(times) == len(set(times))
            assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(times)), symbol
            source = reference.source.klines(symbol, times[0], times[-1])
            assert len(source) == len(rows)
            assert source[0][0] == reference.source.stores[symbol].series.first_ms
            assert [(s[0], s[4], s[8]) for s in source[::997]] == [
                (t, f"{r['close_price']:.8f}", r["trades"])
                for t, r in list(zip(times, rows, strict=True))[::997]
            ]
