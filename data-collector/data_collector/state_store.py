"""The `collector_state` row of each market and the `candle_gaps` the exchange itself has."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from data_collector.progress import Progress
from linkora_core.db import Executor
from linkora_core.epoch import to_datetime, to_ms
from linkora_core.markets import Market
from linkora_core.rollup_sql import key


async def ensure(executor: Executor, markets: Iterable[Market]) -> None:
    await executor.executemany(
        """INSERT INTO collector_state (venue, symbol) VALUES ($1, $2)
           ON CONFLICT (venue, symbol) DO NOTHING""",
        [key(m) for m in markets],
    )


async def listed_at_ms(executor: Executor, market: Market) -> int | None:
    value: datetime | None = await executor.fetchval(
        "SELECT listed_at FROM collector_state WHERE venue = $1 AND symbol = $2", *key(market)
    )
    return None if value is None else to_ms(value)


async def set_listed_at(executor: Executor, market: Market, ms: int) -> None:
    await executor.execute(
        """UPDATE collector_state SET listed_at = $3, updated_at = now()
           WHERE venue = $1 AND symbol = $2""",
        *key(market), to_datetime(ms),
    )  # fmt: skip


async def set_phase(
    executor: Executor, market: Market, phase: str, error: str | None = None
) -> None:
    await executor.execute(
        """UPDATE collector_state SET phase = $3, last_error = $4, updated_at = now()
           WHERE venue = $1 AND symbol = $2""",
        *key(market), phase, error,
    )  # fmt: skip


async def save_progress(executor: Executor, progress: Progress) -> None:
    eta = progress.eta_seconds
    await executor.execute(
        """UPDATE collector_state SET backfill_done = $3, backfill_total = $4,
               backfill_rate = $5, backfill_eta = $6, updated_at = now()
           WHERE venue = $1 AND symbol = $2""",
        *key(progress.market),
        progress.done,
        progress.total,
        Decimal(int(progress.rate)),
        None if eta is None else timedelta(seconds=round(eta)),
    )


async def advance_closed(executor: Executor, market: Market, open_ms: int) -> None:
    """Move last_closed_minute forward (never back)."""
    await executor.execute(
        """UPDATE collector_state
           SET last_closed_minute = greatest(last_closed_minute, $3), updated_at = now()
           WHERE venue = $1 AND symbol = $2""",
        *key(market), to_datetime(open_ms),
    )  # fmt: skip


async def record_gaps(executor: Executor, market: Market, gaps: Iterable[tuple[int, int]]) -> None:
    """Remember minutes [start, end) the exchange does not have, so nobody refetches them."""
    args = [(*key(market), to_datetime(a), to_datetime(b)) for a, b in gaps if b > a]
    if args:
        await executor.executemany(
            """INSERT INTO candle_gaps (venue, symbol, gap_start, gap_end) VALUES ($1, $2, $3, $4)
               ON CONFLICT (venue, symbol, gap_start) DO UPDATE SET gap_end = EXCLUDED.gap_end
               WHERE candle_gaps.gap_end < EXCLUDED.gap_end""",
            args,
        )


async def is_known_gap(executor: Executor, market: Market, start_ms: int, end_ms: int) -> bool:
    """Whether a recorded exchange gap of the market covers minutes [start_ms, end_ms)."""
    found = await executor.fetchval(
        """SELECT EXISTS (SELECT 1 FROM candle_gaps WHERE venue = $1 AND symbol = $2
                          AND gap_start <= $3 AND gap_end >= $4)""",
        *key(market), to_datetime(start_ms), to_datetime(end_ms),
    )  # fmt: skip
    return bool(found)
