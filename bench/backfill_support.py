"""What the backfill benchmarks share: the simulator as its own process, the first day of a
span ending today, and the plain-COPY baseline of the rows a backfill stored."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from devstack.ports import free_port, wait_listening


def start_sim(
    symbols: Sequence[str], start: str, flags: Sequence[str] = ()
) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m exchange_sim` serving `symbols` from the day `start` (its limits from
    `flags`): the process and its host:port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "exchange_sim", "--port", str(port), "--symbols", ",".join(symbols),
         "--start", start, *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    if not wait_listening(port, 30):
        process.kill()
        raise RuntimeError("exchange_sim did not start")
    return process, f"127.0.0.1:{port}"


def days_ago(days: int) -> str:
    """The UTC day `days` before today, as the simulator's --start and START_DATE take it."""
    today = time.time_ns() // 86_400_000_000_000
    return datetime.fromtimestamp((today - days) * 86_400, UTC).strftime("%Y-%m-%d")


# Ten million rows take longer than the pool's command timeout (a minute); None would mean it.
COPY_TIMEOUT = 3600.0


async def copy_seconds(pool: asyncpg.Pool, table: str = "candles") -> float:
    """Every row of `table` read out, the table emptied, and the same rows COPYed back in
    (binary, every column): the seconds of that COPY alone."""
    buffer = io.BytesIO()
    async with pool.acquire() as connection:
        await connection.copy_from_table(
            table, output=buffer, format="binary", timeout=COPY_TIMEOUT
        )
        await connection.execute(f"TRUNCATE {table}", timeout=COPY_TIMEOUT)
        payload = buffer.getvalue()
        started = time.perf_counter()
        await connection.copy_to_table(
            table, source=io.BytesIO(payload), format="binary", timeout=COPY_TIMEOUT
        )
        return time.perf_counter() - started


async def print_copy_baselines(pool: asyncpg.Pool, minutes: int, rates: dict[str, float]) -> None:
    """The plain COPY of the stored minutes, then of everything the backfill stored (the
    minutes and their rollups, every timeframe's, which the backfill writes in the same
    transactions), and each named rate against both."""
    rollups = int(await pool.fetchval("SELECT count(*) FROM candle_rollups"))
    minutes_s = await copy_seconds(pool)
    rollups_s = await copy_seconds(pool, "candle_rollups")
    minute_rate = minutes / minutes_s
    print(f"plain COPY: {minutes:,} candles in {minutes_s:.1f}s = {minute_rate:,.0f} candles/s")
    both_rate = minutes / (minutes_s + rollups_s)
    print(
        f"plain COPY of everything stored: the minutes and {rollups:,} rollup rows "
        f"({rollups / max(minutes, 1):.2f} per minute) in {minutes_s + rollups_s:.1f}s = "
        f"{both_rate:,.0f} minutes/s"
    )
    for name, rate in rates.items():
        print(
            f"ratio {name} / plain COPY: {rate / minute_rate:.2f} of the minutes' COPY, "
            f"{rate / both_rate:.2f} of the COPY of the same rows (minutes and rollups)"
        )
