"""The shared request-weight budget (pure accounting)."""

from __future__ import annotations

from data_collector.weights import RateLimit, WeightBudget, request_weight_limit


def test_requests_go_at_once_while_under_the_paced_share_of_the_limit() -> None:
    budget = WeightBudget(limit=100, fraction=0.8)
    assert [budget.delay(2, 60.0 + i * 0.01) for i in range(40)] == [0.0] * 40
    assert budget.used == 80


def test_a_request_past_the_paced_share_waits_for_the_next_minute() -> None:
    budget = WeightBudget(limit=100, fraction=0.8)
    for _ in range(40):
        budget.delay(2, 61.0)
    wait = budget.delay(2, 70.0)
    assert 50.0 < wait <= 50.1
    assert budget.delay(2, 120.0 + 0.06) == 0.0
    assert budget.used == 2


def test_the_servers_count_is_adopted_when_it_is_higher() -> None:
    budget = WeightBudget(limit=100, fraction=0.8)
    budget.delay(2, 61.0)
    budget.observe(79, sent_at=61.0, now=61.5)
    assert budget.delay(2, 62.0) > 0


def test_a_count_from_the_previous_minute_is_ignored() -> None:
    budget = WeightBudget(limit=100, fraction=0.8)
    budget.delay(2, 119.9)
    budget.observe(79, sent_at=119.9, now=120.1)
    assert budget.delay(2, 120.2) == 0.0


def test_nothing_is_sent_until_retry_after_has_passed() -> None:
    budget = WeightBudget(limit=6000)
    budget.block(retry_after=7, now=1000.0)
    assert budget.delay(1, 1000.0) == 7.0
    assert budget.delay(1, 1006.5) == 0.5
    assert budget.delay(1, 1007.0) == 0.0
    assert budget.rejections == 1


def test_limit_is_read_from_exchange_info_rate_limits() -> None:
    info = {
        "rateLimits": [
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 1200,
            },
        ]
    }
    assert request_weight_limit(info) == RateLimit(1200)
    assert request_weight_limit({"rateLimits": []}) is None
    assert request_weight_limit([]) is None
