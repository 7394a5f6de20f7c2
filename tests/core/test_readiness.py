"""Readiness: cached checks ask their dependency at most once per TTL."""

from __future__ import annotations

import asyncio

from linkora_core.readiness import CachedCheck, verdict


async def test_a_cached_check_asks_once_per_ttl_even_when_called_concurrently() -> None:
    calls = 0

    async def check() -> bool:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return True

    cached = CachedCheck(check, ttl=0.2)
    assert await asyncio.gather(*(cached.get() for _ in range(20))) == [True] * 20
    assert calls == 1
    await asyncio.sleep(0.25)
    assert await cached.get()
    assert calls == 2


def test_the_verdict_is_503_naming_every_problem() -> None:
    assert verdict({}) == ({"ready": True, "problems": {}}, 200)
    body, status = verdict({"database": "unreachable", "live-feed": "failed: OSError"})
    assert status == 503
    assert body == {
        "ready": False,
        "problems": {"database": "unreachable", "live-feed": "failed: OSError"},
    }
