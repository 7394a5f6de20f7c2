"""Sliding-window pacing: never more than the allowance in any window, rejections wait."""

from hypothesis import given
from hypothesis import strategies as st

from data_collector.request_budget import SlidingBudget


@given(st.lists(st.floats(0, 0.5), min_size=1, max_size=200))
def test_no_window_ever_holds_more_than_the_allowance(gaps: list[float]) -> None:
    budget = SlidingBudget(limit=10, window=1.0, fraction=0.8)
    now, sent = 0.0, []
    for gap in gaps:
        now += gap
        while (wait := budget.delay(now)) > 0:
            now += wait
        sent.append(now)
    for t in sent:
        assert sum(1 for s in sent if t - 1.0 < s <= t) <= 8


def test_a_rejection_blocks_and_a_refused_connection_is_refunded() -> None:
    budget = SlidingBudget(limit=2, window=5.0, fraction=1.0)
    assert budget.delay(0.0) == 0.0 and budget.delay(0.1) == 0.0
    assert budget.delay(0.2) == 5.0 - 0.2  # until the first leaves the window
    budget.refund(0.1)
    assert budget.delay(0.3) == 0.0 and budget.used == 2
    budget.block(30.0, 1.0)
    assert budget.rejections == 1 and budget.delay(10.0) == 21.0
    assert budget.delay(31.0) == 0.0
