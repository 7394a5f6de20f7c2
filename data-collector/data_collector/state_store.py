"""The `collector_state` row of each symbol and the `candle_gaps` the exchange itself has."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from data_collector.progress import Progress
from linkora_core.db import Executor
from linkora_core.epoch import to_datetime, to_ms


async def ensure(executor: Executor, symbols: Iterable[str]) -> None:
    await executor.executemany(
        "INSERT INTO collector_state (symbol) VALUES ($1) ON CONFLICT (symbol) DO NOTHING",
        [(s,) for s in symbols],
    )


async def listed_at_ms(executor: Executor, symbol: str) -> int | None:
    value: datetime | None = await executor.fetchval(
        "SELECT listed_at FROM collector_state WHERE symbol = $1", symbol
    )
    return None if value is None else to_ms(value)


async def set_listed_at(executor: Executor, symbol: str, ms: int) -> None:
    await executor.execute(
        "UPDATE collector_state SET listed_at = $2, updated_at = now() WHERE symbol = $1",
        symbol, to_datetime(ms),
    )  # fmt: skip


async def set_phase(executor: Executor, symbol: str, phase: str, error: str | None = None) -> None:
    await executor.execute(
        """UPDATE collector_state SET phase = $2, last_error = $3, updated_at = now()
           WHERE symbol = $1""",
        symbol, phase, error,
    )  # fmt: skip


async def save_progress(executor: Executor, progress: Progress) -> None:
    eta = progress.eta_seconds
    await executor.execute(
        """UPDATE collector_state SET backfill_done = $2, backfill_total = $3,
               backfill_rate = $4, backfill_eta = $5, updated_at = now()
           WHERE symbol = $1""",
        progress.symbol,
        progress.done,
        progress.total,
        Decimal(int(progress.rate)),
        None if eta is None else timedelta(seconds=round(eta)),
    )


async def advance_closed(executor: Executor, symbol: str, open_ms: int) -> None:
    """Move last_closed_minute forward (never back)."""
    await executor.execute(
        """UPDATE collector_state
           SET last_closed_minute = greatest(last_closed_minute, $2), updated_at = now()
           WHERE symbol = $1""",
        symbol, to_datetime(open_ms),
    )  # fmt: skip


async def record_gaps(executor: Executor, symbol: str, gaps: Iterable[tuple[int, int]]) -> None:
    """Remember minutes [start, end) the exchange does not have, so nobody refetches them."""
    args = [(symbol, to_datetime(a), to_datetime(b)) for a, b in gaps if b > a]
    if args:
        await executor.executemany(
            """INSERT INTO candle_gaps (symbol, gap_start, gap_end) VALUES ($1, $2, $3)
               ON CONFLICT (symbol, gap_start) DO UPDATE SET gap_end = EXCLUDED.gap_end
               WHERE candle_gaps.gap_end < EXCLUDED.gap_end""",
            args,
        )


async def is_known_gap(executor: Executor, symbol: str, start_ms: int, end_ms: int) -> bool:
    """Whether a recorded exchange gap covers minutes [start_ms, end_ms)."""
    found = await executor.fetchval(
        """SELECT EXISTS (SELECT 1 FROM candle_gaps WHERE symbol = $1
                          AND gap_start <= $2 AND gap_end >= $3)""",
        symbol, to_datetime(start_ms), to_datetime(end_ms),
    )  # fmt: skip
    return bool(found)
