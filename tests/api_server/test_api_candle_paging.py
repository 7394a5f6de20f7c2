"""Ordering, limits, end_date and the Link header of /candles, and the open bucket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import httpx
from api_helpers import minute, spot, store_minutes
from starlette.applications import Starlette

from linkora_core.rollup_passes import roll_market
from linkora_core.timeframes import MINUTE_MS
from tests.http_checks import running

SYMBOL = "PAGEUSDT"
BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) * 1000


async def store_hours(db: asyncpg.Pool, hours: int, *, open_last: bool = False) -> None:
    minutes = [minute(BASE + i * MINUTE_MS, "10", "11", "9", "10") for i in range(hours * 60)]
    await store_minutes(
        db, SYMBOL, minutes, open_from=minutes[-1].open_time_ms if open_last else None
    )


async def get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    return response


async def test_without_start_date_the_newest_come_first(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await store_hours(clean_db, 5)
    await roll_market(clean_db, spot(SYMBOL))
    body = (await get(client, f"/candles?symbol={SYMBOL}&timeframe=1H&limit=3")).json()
    assert [c["timestamp"] for c in body] == [BASE + h * 3_600_000 for h in (4, 3, 2)]
    assert body[0]["open_time"] == "2024-05-01T04:00:00+00:00"
    assert body[0]["close_time"] == "2024-05-01T04:59:59.999000+00:00"


async def test_with_start_date_the_oldest_at_or_after_it_come_first(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await store_hours(clean_db, 5)
    await roll_market(clean_db, spot(SYMBOL))
    body = (
        await get(
            client, f"/candles?symbol={SYMBOL}&timeframe=1H&limit=2&start_date=2024-05-01T00:30:00Z"
        )
    ).json()
    assert [c["timestamp"] for c in body] == [BASE + h * 3_600_000 for h in (1, 2)]


async def follow_links(client: httpx.AsyncClient, url: str | None) -> list[int]:
    """The candle timestamps of every page, from `url` along the `Link` headers."""
    seen: list[int] = []
    while url:
        response = await get(client, url)
        seen += [c["timestamp"] for c in response.json()]
        link = response.headers.get("link")
        url = link[1 : link.index(">")] if link else None
    return seen


async def test_link_header_pages_back_through_history_without_overlap(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await store_hours(clean_db, 5, open_last=True)
    await roll_market(clean_db, spot(SYMBOL))
    seen = await follow_links(client, f"/candles?symbol={SYMBOL}&timeframe=15&limit=7")
    assert seen == [BASE + q * 900_000 for q in reversed(range(20))]


async def test_link_header_pages_forward_from_start_date(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await store_hours(clean_db, 3)
    await roll_market(clean_db, spot(SYMBOL))
    seen = await follow_links(
        client, f"/candles?symbol={SYMBOL}&timeframe=5&limit=10&start_date=2024-05-01"
    )
    assert seen == [BASE + q * 300_000 for q in range(36)]


async def test_end_date_excludes_buckets_opening_at_or_after_it(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await store_hours(clean_db, 5)
    body = (
        await get(
            client, f"/candles?symbol={SYMBOL}&timeframe=1H&limit=10&end_date=2024-05-01T02:00:00Z"
        )
    ).json()
    assert [c["timestamp"] for c in body] == [BASE + 3_600_000, BASE]


async def test_the_open_bucket_is_included_and_follows_minute_updates(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await store_hours(clean_db, 2)
    await roll_market(clean_db, spot(SYMBOL))
    now = BASE + 2 * 3_600_000
    await store_minutes(
        clean_db, SYMBOL, [minute(now, "10", "12", "10", "11", volume="3")], open_from=now
    )
    url = f"/candles?symbol={SYMBOL}&timeframe=4H&limit=1"
    [bucket] = (await get(client, url)).json()
    assert (bucket["high_price"], bucket["close_price"], bucket["volume"]) == ("12", "11", "123")
    # The same open minute updated: replaced, not added twice.
    await store_minutes(
        clean_db, SYMBOL, [minute(now, "10", "13", "10", "12.5", volume="4")], open_from=now
    )
    [bucket] = (await get(client, url)).json()
    assert (bucket["high_price"], bucket["close_price"], bucket["volume"]) == ("13", "12.5", "124")
    [price] = [(await get(client, f"/price?symbol={SYMBOL}&timeframe=1")).json()]
    assert price["current_price"] == "12.5" and price["previous_price"] == "10"
    assert price["change_absolute"] == "2.5" and price["change_percent"] == "25"
    assert price["trend"] == "up" and price["timestamp"] == now


async def test_closed_pages_are_cached_and_open_ones_only_for_a_moment(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> None:
    application = make_app(
        candle_cache_seconds=60, candle_live_cache_seconds=0.2, rate_limit_per_second=0
    )
    await store_hours(clean_db, 3, open_last=True)
    await roll_market(clean_db, spot(SYMBOL))
    async with running(application, "http://api") as client:
        closed = f"/candles?symbol={SYMBOL}&timeframe=1H&end_date=2024-05-01T02:00:00Z"
        newest = f"/candles?symbol={SYMBOL}&timeframe=1H"
        first = (await get(client, closed)).json()
        open_before = (await get(client, newest)).json()
        await clean_db.execute("UPDATE candle_rollups SET volume = 1")
        await clean_db.execute("UPDATE candles SET volume = 2")
        assert (await get(client, closed)).json() == first
        assert (await get(client, newest)).json() == open_before
        await asyncio.sleep(0.25)
        assert (await get(client, closed)).json() == first
        assert (await get(client, newest)).json() != open_before


async def test_a_remembered_frontier_that_lags_still_gives_the_same_candles(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> None:
    application = make_app(candle_live_cache_seconds=0, rollup_frontier_cache_seconds=60)
    await store_hours(clean_db, 2)
    await roll_market(clean_db, spot(SYMBOL))
    url = f"/candles?symbol={SYMBOL}&timeframe=15&limit=50"
    async with running(application, "http://api") as client:
        before = (await get(client, url)).json()  # frontiers remembered now
        await store_hours(clean_db, 4, open_last=True)
        await roll_market(clean_db, spot(SYMBOL))  # the real frontiers move on
        after = (await get(client, url)).json()
    assert [c["timestamp"] for c in after] == [BASE + q * 900_000 for q in reversed(range(16))]
    assert after[-len(before) :] == before
