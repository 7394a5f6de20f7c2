import asyncio
import time

import pytest

from linkora_core.backoff import Backoff, RetryPolicy, pause


def test_delays_double_up_to_the_cap_and_reset_after_a_success() -> None:
    backoff = Backoff(first=0.5, cap=3.0, jitter=0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_jitter_spreads_each_delay_within_its_fraction() -> None:
    delays = [Backoff(first=1.0, cap=1.0, jitter=0.2).next_delay() for _ in range(200)]
    assert all(0.8 <= d <= 1.2 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    ("first", "cap", "factor", "jitter"), [(0, 1, 2, 0), (2, 1, 2, 0), (1, 2, 0.5, 0), (1, 2, 2, 1)]
)
def test_a_policy_that_cannot_work_is_refused(
    first: float, cap: float, factor: float, jitter: float
) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(first=first, cap=cap, factor=factor, jitter=jitter)


async def test_a_wait_ends_as_soon_as_the_service_stops() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    assert await Backoff(first=30, cap=30).wait(stop) is False
    assert time.monotonic() - started < 5


async def test_a_wait_that_runs_out_reports_it() -> None:
    assert await pause(0.01, asyncio.Event()) is True
    assert await pause(0.01) is True
    stopped = asyncio.Event()
    stopped.set()
    assert await pause(30, stopped) is False


def test_a_policy_is_a_value_each_loop_takes_its_own_backoff_from() -> None:
    policy = RetryPolicy(first=1.0, cap=4.0, jitter=0)
    one, other = policy.backoff(), policy.backoff()
    assert [one.next_delay() for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert other.next_delay() == 1.0
    with pytest.raises(ValueError, match="backoff needs"):
        RetryPolicy(first=2.0, cap=1.0)
