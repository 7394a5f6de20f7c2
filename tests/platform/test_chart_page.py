"""The live chart page in Debian's headless Chromium against the offline platform: history
drawn, live candles over the WebSocket, all 13 timeframes, the order book and the orders the
demo trader creates. Screenshots land in tests/artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
TIMEFRAMES = ["1", "3", "5", "15", "30", "45", "1H", "2H", "3H", "4H", "1D", "1W", "1M"]
MINUTES = {"1": 1, "3": 3, "5": 5, "15": 15, "30": 30, "45": 45, "1H": 60, "2H": 120,
           "3H": 180, "4H": 240, "1D": 1440}  # fmt: skip


@pytest.fixture(scope="module")
async def chart_page(browser: Browser, running_platform: dict[str, Any]) -> AsyncIterator[Page]:
    """The page, loaded once and shared: the tests below read it in order."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(running_platform["endpoints"]["api-server"] + "/?symbol=BTCUSDT")
    await page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    try:
        yield page
    finally:
        await page.close()
    assert errors == []


async def _dataset(page: Page, name: str) -> str:
    return str(await page.evaluate(f"document.body.dataset.{name} || ''"))


async def _candles(page: Page) -> list[dict[str, float]]:
    bars: list[dict[str, float]] = await page.evaluate("window.linkoraChart.candles()")
    return bars


def _assert_well_formed(bars: list[dict[str, float]]) -> None:
    assert bars
    times = [bar["time"] for bar in bars]
    assert times == sorted(set(times))
    for bar in bars:
        assert 0 < bar["low"] <= min(bar["open"], bar["close"])
        assert max(bar["open"], bar["close"]) <= bar["high"]


async def test_the_page_draws_history_from_rest(chart_page: Page) -> None:
    bars = await _candles(chart_page)
    _assert_well_formed(bars)
    assert int(await _dataset(chart_page, "bars")) == len(bars) > 100
    assert await _dataset(chart_page, "loadedSymbol") == "BTCUSDT"
    volumes = await chart_page.evaluate("window.linkoraChart.volumes()")
    assert len(volumes) == len(bars)


async def test_live_candles_arrive_over_the_websocket(chart_page: Page) -> None:
    before = await _candles(chart_page)
    await chart_page.wait_for_function(
        "Number(document.body.dataset.liveUpdates) >= 2", timeout=90_000
    )
    after = await _candles(chart_page)
    assert after[-1]["time"] >= before[-1]["time"]
    assert int(await _dataset(chart_page, "lastUpdate")) == after[-1]["time"]
    await chart_page.screenshot(path=str(ARTIFACTS / "chart-live.png"))


async def test_the_order_book_shows_both_sides_and_the_spread(chart_page: Page) -> None:
    await chart_page.wait_for_function("Number(document.body.dataset.bookRows) > 0", timeout=30_000)
    assert await chart_page.locator("#bids tr").count() > 0
    assert await chart_page.locator("#asks tr").count() > 0
    assert "spread" in await chart_page.locator("#spread").inner_text()


async def test_the_orders_the_trader_creates_are_listed(chart_page: Page) -> None:
    await chart_page.wait_for_function(
        "Number(document.body.dataset.orderRows) > 0", timeout=90_000
    )
    rows = chart_page.locator("#order-rows tr")
    assert await rows.count() > 0
    statuses = set(await chart_page.locator("#order-rows td:nth-child(8)").all_inner_texts())
    assert statuses <= {"PENDING", "EXECUTED", "CANCELLED"}
    await chart_page.screenshot(path=str(ARTIFACTS / "chart-orders.png"), full_page=True)


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
async def test_every_timeframe_renders_candles(chart_page: Page, timeframe: str) -> None:
    await chart_page.click(f"#timeframes button[data-timeframe='{timeframe}']")
    await chart_page.wait_for_function(
        f"document.body.dataset.loadedTimeframe === '{timeframe}'", timeout=30_000
    )
    bars = await _candles(chart_page)
    _assert_well_formed(bars)
    if timeframe in MINUTES:
        step = MINUTES[timeframe] * 60
        assert all(int(bar["time"]) % step == 0 for bar in bars)
    active = chart_page.locator("#timeframes button.active")
    assert await active.inner_text() == timeframe
    await chart_page.screenshot(path=str(ARTIFACTS / f"chart-{timeframe}.png"))


async def test_the_symbol_picker_switches_the_chart_and_the_book(chart_page: Page) -> None:
    await chart_page.select_option("#symbol", "ETHUSDT")
    await chart_page.wait_for_function(
        "document.body.dataset.loadedSymbol === 'ETHUSDT'", timeout=30_000
    )
    _assert_well_formed(await _candles(chart_page))
    await chart_page.wait_for_function(
        "document.body.dataset.bookSymbol === 'ETHUSDT'", timeout=30_000
    )
    await chart_page.screenshot(path=str(ARTIFACTS / "chart-ethusdt.png"))
