"""The chart page resumes its candles' socket in Debian's headless Chromium: the first
connection asks for no replay; after the server restarts, the socket reconnects with `since`
(just before the newest bar it shows) and the closed minutes stored while it was away are
replayed onto the chart."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
from playwright.async_api import Browser

from tests.platform.test_chart_operator import MINUTES, dataset, market, store_minutes
from tests.platform.test_chart_sockets import Restartable, Sockets, api
from tests.polling import eventually

__all__ = ["api", "market"]  # fixtures defined with the chart's other tests

CANDLES = "symbol=BTCUSDT&timeframe=1&type=candles"


async def test_the_candles_socket_resumes_after_a_restart_and_the_missed_minutes_are_drawn(
    browser: Browser, api: Restartable, market: datetime, clean_db: asyncpg.Pool
) -> None:
    url = await api.start()
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1200, "height": 900})
    sockets = Sockets(page)
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url + "/?symbol=BTCUSDT&timeframe=1")
    await page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    try:
        newest = market + timedelta(minutes=MINUTES - 1)
        await page.wait_for_function(
            f"Number(document.body.dataset.bars) >= {MINUTES}", timeout=15_000
        )
        candle_urls = [s.url for s in sockets.opened if CANDLES in s.url]
        assert len(candle_urls) == 1 and "since" not in candle_urls[0]

        await api.stop()
        # Stored while the server is away, as the collector would: three more minutes (the
        # newest of them still counts as open: no later minute yet).
        await store_minutes(clean_db, newest + timedelta(minutes=1), 3)
        await api.start()

        def resumed() -> list[str]:
            return [s.url for s in sockets.opened if CANDLES in s.url and "since=" in s.url]

        reconnected = await eventually(resumed, 30, what="the candles' socket did not resume")
        since = int(parse_qs(urlsplit(reconnected[0]).query)["since"][0])
        assert since == int(newest.timestamp() * 1000) - 1
        await page.wait_for_function("Number(document.body.dataset.replayed) >= 3")
        assert await dataset(page, "replayed") == "3"  # the newest bar and the two after it
        expected = int((newest + timedelta(minutes=2)).timestamp())
        assert await dataset(page, "lastUpdate") == str(expected)
        assert int(await dataset(page, "bars")) == MINUTES + 2
        assert errors == []
    finally:
        with contextlib.suppress(Exception):
            await page.close()
