"""The shared weight budget against a simulator with a low limit, forced 429s and 5xx."""

from __future__ import annotations

import itertools

import asyncpg
import pytest
from collector_helpers import MINUTE_MS, HarnessFactory, SimFactory, days_ago


async def minutes(pool: asyncpg.Pool, symbol: str) -> list[int]:
    rows = await pool.fetch(
        "SELECT open_time FROM candles WHERE symbol = $1 AND is_closed ORDER BY open_time", symbol
    )
    return [int(r["open_time"].timestamp()) * 1000 for r in rows]


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.8, 0.95])
async def test_low_weight_limit_is_used_up_to_the_paced_share_with_zero_429s(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool, fraction: float
) -> None:
    # 60 weight/min; the backfill needs about 75, so it must wait for the next minute.
    sim = await make_sim(symbols=("BTCUSDT",), start=days_ago(17), weight_limit=60)
    harness = make_collector(sim, backfill_concurrency=4, weight_budget_fraction=fraction)
    await harness.backfill()
    assert harness.rest.budget.limit == 60  # read from exchangeInfo
    assert sim.stats.rate_limited == 0 and sim.stats.banned == 0
    allowance = int(60 * fraction)
    peak = max(used for *_, used in harness.log)
    assert 0.9 * allowance <= peak <= allowance
    stored = await minutes(clean_db, "BTCUSDT")
    assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(stored))
    assert len(stored) > 17 * 1440


async def test_after_a_forced_429_nothing_is_sent_until_retry_after(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), start=days_ago(4))
    # Several requests in flight: those already sent when the 429 comes back may get 429s
    # too (Binance tolerates those), but nothing new may be sent inside Retry-After.
    harness = make_collector(sim, backfill_concurrency=4)
    await harness.collector.prepare()
    sim.faults.set(force_429_next=1, retry_after_seconds=2)
    await harness.collector.backfill_all()
    statuses = [status for _, _, status, _ in harness.log]
    assert 1 <= statuses.count(429) <= 4 and 418 not in statuses
    answered = min(answered for _, answered, status, _ in harness.log if status == 429)
    sent_later = [sent for sent, *_ in harness.log if sent > answered]
    assert sent_later and min(sent_later) - answered >= 1.9  # nothing new inside Retry-After
    stored = await minutes(clean_db, "BTCUSDT")
    assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(stored))


async def test_server_errors_are_retried_with_backoff(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), start=days_ago(3))
    harness = make_collector(sim)
    await harness.collector.prepare()
    sim.faults.set(error_next=3)
    await harness.collector.backfill_all()
    statuses = [status for _, _, status, _ in harness.log]
    assert sum(1 for s in statuses if s >= 500) == 3
    stored = await minutes(clean_db, "BTCUSDT")
    assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(stored))
    assert len(stored) > 3 * 1440
