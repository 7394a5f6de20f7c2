"""Sliding-window pacing: however late requests arrive, the server never counts more than the
allowance in a window; rejections wait; a refused connection costs nothing."""

from hypothesis import given
from hypothesis import strategies as st

from data_collector.request_budget import SlidingBudget

# Each request: (pause before asking to send, seconds to its arrival, seconds from arrival to
# its answer) - a loaded client or network may deliver a request late and answer it later.
requests = st.lists(
    st.tuples(st.floats(0, 0.3), st.floats(0, 1.5), st.floats(0, 0.5)), min_size=1, max_size=150
)


@given(requests, st.integers(1, 4))
def test_no_server_window_ever_holds_more_than_the_allowance(
    plan: list[tuple[float, float, float]], concurrency: int
) -> None:
    budget = SlidingBudget(limit=10, window=1.0, fraction=0.8)
    now, arrivals = 0.0, []
    flying: list[float] = []  # answer times of requests in flight, `concurrency` at most
    for gap, to_arrive, to_answer in plan:
        now += gap
        while True:
            for answered in sorted(a for a in flying if a <= now):
                budget.settle(answered)
                flying.remove(answered)
            wait = budget.delay(now)
            if wait == 0:
                break
            now += wait
        arrivals.append(now + to_arrive)
        flying.append(now + to_arrive + to_answer)
        while len(flying) >= concurrency:  # the client awaits an answer before sending more
            now = max(now, min(flying))
            budget.settle(min(flying))
            flying.remove(min(flying))
    for t in arrivals:
        assert sum(1 for a in arrivals if t - 1.0 < a <= t) <= 8


def test_a_place_is_held_in_flight_and_for_a_window_after_the_answer() -> None:
    budget = SlidingBudget(limit=2, window=5.0, fraction=1.0)
    assert budget.delay(0.0) == 0.0 and budget.delay(0.1) == 0.0
    assert budget.delay(0.2) == 5.0 * 0.05  # both in flight: nothing to wait for but an answer
    budget.settle(3.0)  # the first answered late
    assert budget.delay(7.9) == 8.0 - 7.9  # a window after the answer, not after the sending
    assert budget.delay(8.0) == 0.0 and budget.used == 2


def test_a_rejection_blocks_and_a_refused_connection_is_refunded() -> None:
    budget = SlidingBudget(limit=2, window=5.0, fraction=1.0)
    assert budget.delay(0.0) == 0.0 and budget.delay(0.1) == 0.0
    budget.refund()
    assert budget.delay(0.3) == 0.0 and budget.used == 2
    budget.settle(0.4)
    budget.settle(0.5)
    budget.block(30.0, 1.0)
    assert budget.rejections == 1 and budget.delay(10.0) == 21.0
    assert budget.delay(31.0) == 0.0
