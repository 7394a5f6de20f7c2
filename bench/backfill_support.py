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


async def copy_seconds(pool: asyncpg.Pool) -> float:
    """Every stored candle read out, the table emptied, and the same rows COPYed back in
    (binary, every column): the seconds of that COPY alone."""
    buffer = io.BytesIO()
    async with pool.acquire() as connection:
        await connection.copy_from_table(
            "candles", output=buffer, format="binary", timeout=COPY_TIMEOUT
        )
        await connection.execute("TRUNCATE candles", timeout=COPY_TIMEOUT)
        payload = buffer.getvalue()
        started = time.perf_counter()
        await connection.copy_to_table(
            "candles", source=io.BytesIO(payload), format="binary", timeout=COPY_TIMEOUT
        )
        return time.perf_counter() - started
