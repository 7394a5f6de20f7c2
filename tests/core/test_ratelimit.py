"""The per-IP token bucket and the middleware that applies it."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from linkora_core.ratelimit import ClientAddress, RateLimiter, RateLimitMiddleware, TokenBucket


def test_a_full_bucket_allows_a_burst_then_one_request_per_token() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) == pytest.approx(0.5)


def test_tokens_never_accumulate_beyond_the_burst() -> None:
    bucket = TokenBucket.full(rate=10.0, burst=2, now=0.0)
    assert [bucket.take(1000.0) for _ in range(3)][-1] > 0


def test_each_key_has_its_own_bucket_and_old_keys_are_forgotten() -> None:
    limiter = RateLimiter(1.0, 1, max_keys=2, clock=lambda: 0.0)
    assert limiter.check("a") == 0.0 and limiter.check("b") == 0.0
    assert limiter.check("a") > 0
    limiter.check("c")  # evicts b, the least recently seen
    assert limiter.check("b") == 0.0


def scope(peer: str, forwarded: str | None = None) -> dict[str, object]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"type": "http", "client": (peer, 5000), "headers": headers}


def test_forwarded_for_is_honoured_only_from_trusted_proxies() -> None:
    address = ClientAddress(["10.0.0.0/8"])
    assert address(scope("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    assert address(scope("10.1.1.1", "1.2.3.4")) == "1.2.3.4"
    # A client-sent header is the leftmost: read from the right, past trusted hops only.
    assert address(scope("10.1.1.1", "6.6.6.6, 1.2.3.4, 10.2.2.2")) == "1.2.3.4"
    assert address(scope("10.1.1.1")) == "10.1.1.1"
    assert ClientAddress()(scope("10.1.1.1", "1.2.3.4")) == "10.1.1.1"


async def test_the_middleware_answers_429_with_retry_after_per_client_ip() -> None:
    now = [0.0]
    app = Starlette(
        routes=[
            Route("/x", lambda request: PlainTextResponse("ok")),
            Route("/health", lambda request: PlainTextResponse("ok")),
        ]
    )
    limited = RateLimitMiddleware(
        app, rate=0.5, burst=2, trusted_proxies=["127.0.0.1"], clock=lambda: now[0]
    )
    transport = httpx.ASGITransport(app=limited, client=("127.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        one = {"x-forwarded-for": "1.1.1.1"}
        assert [(await client.get("/x", headers=one)).status_code for _ in range(2)] == [200, 200]
        refused = await client.get("/x", headers=one)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "2"
        assert refused.json() == {"error": "Too many requests"}
        assert (await client.get("/x", headers={"x-forwarded-for": "2.2.2.2"})).status_code == 200
        assert (await client.get("/health", headers=one)).status_code == 200
        now[0] = 2.0
        assert (await client.get("/x", headers=one)).status_code == 200
