"""Which provider errors are rate limits (waited out) and which are range limits (the range
shrinks): the messages hosted providers really send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from order_system.rpc import (
    RateLimited,
    RpcError,
    TooManyResults,
    _error,
    _rate_limited,
    _retry_after_header,
)


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        ({"code": -32005, "message": "rate limit exceeded"}, None),
        (
            {
                "code": -32005,
                "message": "daily request count exceeded, request rate limited",
                "data": {"rate": {"allowed_rps": 1, "backoff_seconds": 30, "current_rps": 1.1}},
            },
            30.0,
        ),
        ({"code": 429, "message": "Your app has exceeded its compute units per second"}, None),
        ({"code": -32016, "message": "over rate limit", "data": {"backoff_seconds": 2}}, 2.0),
        ({"code": -32000, "message": "Too Many Requests"}, None),
    ],
)
def test_rate_limits_are_recognised_with_the_wait_they_ask(
    error: dict[str, object], retry_after: float | None
) -> None:
    limited = _rate_limited("eth_getLogs", error)
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == retry_after


@pytest.mark.parametrize(
    "message",
    [
        "query returned more than 10000 results. Try with this block range [0x1, 0x2].",
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block "
        "range and no limit on the response size",
        "block range is too large",
    ],
)
def test_range_limits_are_not_rate_limits(message: str) -> None:
    error = {"code": -32005, "message": message}
    assert _rate_limited("eth_getLogs", error) is None
    assert isinstance(_error("eth_getLogs", error), TooManyResults)


def test_a_plain_error_is_neither() -> None:
    error = {"code": -32000, "message": "header not found"}
    assert _rate_limited("eth_call", error) is None
    assert type(_error("eth_call", error)) is RpcError


def test_retry_after_is_seconds_or_an_http_date() -> None:
    assert _retry_after_header("3") == 3.0
    assert _retry_after_header(None) is None
    assert _retry_after_header("soon") is None
    later = _retry_after_header(format_datetime(datetime.now(UTC) + timedelta(seconds=20), True))
    assert later is not None and 10 < later <= 20
