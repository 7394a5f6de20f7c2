"""The `/candles` page cache is bounded by bytes, not by entries: pages of 5,000 candles are
~1.8 MB each, and every chart load asks for a different one."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from api_helpers import minute, moment, settings_for, store_minutes

from api_server.app import create_app
from api_server.page_cache import PageCache
from linkora_core.timeframes import MINUTE_MS

BASE = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp()) * 1000
BOUND = 8 * 1024 * 1024
PAGES = 300


@pytest.mark.slow
async def test_300_distinct_full_pages_keep_the_cache_and_the_process_under_the_bound(
    service_env: dict[str, str], clean_db: asyncpg.Pool
) -> None:
    count = 5000 + PAGES
    await store_minutes(
        clean_db,
        "BTCUSDT",
        [minute(BASE + i * MINUTE_MS, "100.5", "101.25", "99.125", "100.75") for i in range(count)],
    )
    app = create_app(
        settings_for(
            service_env,
            rate_limit_per_second=0,
            candle_cache_seconds=600,
            candle_live_cache_seconds=600,  # every page is kept, however recent
            candle_cache_bytes=BOUND,
        ),
        maintain_rollups=False,
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api") as client,
    ):
        # Live Python memory, not RSS: the allocator keeps freed pages, whatever holds them.
        tracemalloc.start()
        served = 0
        for page in range(PAGES):
            end = moment(BASE + (5000 + page) * MINUTE_MS).isoformat()
            response = await client.get(
                "/candles", params={"symbol": "BTCUSDT", "limit": "5000", "end_date": end}
            )
            assert response.status_code == 200 and len(response.json()) == 5000
            served += len(response.content)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        cache: PageCache = app.state.page_cache
        assert served > 40 * BOUND  # unbounded, the pages would hold all of this
        assert grown < 3 * BOUND, f"the process holds {grown / 2**20:.0f} MB more"
        assert 0 < cache.size <= BOUND
        assert len(cache) >= 2  # bounded by bytes, not emptied


def test_entries_are_evicted_least_recently_used_first_to_stay_within_the_bytes() -> None:
    each = 200 + PageCache.OVERHEAD
    cache = PageCache(60, max_bytes=3 * each + 50)
    for key in "abc":
        cache.put(key, b"x" * 200, {})
    assert cache.get("a") is not None  # now the most recently used
    cache.put("d", b"x" * 200, {})
    assert cache.get("b") is None and cache.get("a") is not None
    assert (len(cache), cache.size) == (3, 3 * each)
    cache.put("a", b"y" * 10, {"Link": "<x>"})  # a replacement counts only once
    assert cache.size == 2 * each + 10 + len("Link<x>") + PageCache.OVERHEAD


def test_a_page_larger_than_the_whole_cache_is_not_kept() -> None:
    cache = PageCache(60, max_bytes=1000)
    cache.put("small", b"x" * 100, {})
    cache.put("huge", b"x" * 2000, {})
    assert cache.get("huge") is None and cache.get("small") is not None


def test_expired_entries_are_evicted_without_being_asked_for() -> None:
    now = [0.0]
    cache = PageCache(10, max_bytes=10**6, clock=lambda: now[0])
    for key in range(50):
        cache.put(key, b"x" * 100, {}, ttl=1)
    cache.put("long", b"x" * 100, {})
    now[0] = 5.0
    cache.put("later", b"x" * 100, {})
    assert len(cache) == 2
    assert cache.size == 200 + 2 * PageCache.OVERHEAD
