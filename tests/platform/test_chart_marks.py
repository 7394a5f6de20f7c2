"""The chart page in Debian's headless Chromium draws the DEX's own executed and cancelled
orders as markers on the candles (from the UDF marks) with a tooltip, and keeps working with no
token pair mapped. The api-server runs under uvicorn over the test PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, Page

WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
USER = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"
ROUTER = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
MINUTES = 180
# Start a server with settings overrides; answers its base URL.
Serve = Callable[..., Awaitable[str]]


def _hash(n: int) -> str:
    return f"0x{n:064x}"


@pytest.fixture
async def market(clean_db: asyncpg.Pool) -> datetime:
    """Three hours of ETHUSDT minutes up to now around 3,000 USD, and three closed orders of
    the WETH/USDT pair in them: a sell executed, a buy executed, a buy cancelled. Answers the
    first minute."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first = now - timedelta(minutes=MINUTES - 1)
    rows = []
    for i in range(MINUTES):
        base = Decimal(3000) + Decimal(i % 17) - Decimal(8)
        close = base + 1 if i % 3 else base - 1
        rows.append((first + timedelta(minutes=i), base, base + 3, base - 2, close))
    await clean_db.executemany(
        "INSERT INTO candles (symbol, open_time, open_price, high_price, low_price, close_price,"
        " volume, quote_volume, trades, taker_buy_volume, taker_buy_quote_volume, is_closed)"
        " VALUES ('ETHUSDT', $1, $2, $3, $4, $5, 2, 6000, 10, 1, 3000, true)",
        rows,
    )
    await clean_db.executemany(
        "INSERT INTO token_decimals (token_address, decimals) VALUES ($1, $2)",
        [(WETH, 18), (USDT, 6)],
    )
    orders = [
        (1, WETH, USDT, "0.5", "EXECUTED", 150, "1506.25"),
        (2, USDT, WETH, "3000", "EXECUTED", 160, "0.99"),
        (3, USDT, WETH, "1500", "CANCELLED", 170, None),
    ]
    for order_id, token_in, token_out, amount, status, minute, out in orders:
        closed = first + timedelta(minutes=minute, seconds=20)
        executed = status == "EXECUTED"
        await clean_db.execute(
            "INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price,"
            " min_amount_out, order_type, is_long, self_executable, status, created_at,"
            " executed_at, updated_at, tx_hash, block_number, executor_address, amount_out,"
            " execution_tx_hash) VALUES ($1, $2, $3, $4, $5, 3012.5, 0.3, 'LIMIT', $6, false,"
            " $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            order_id,
            USER,
            token_in,
            token_out,
            Decimal(amount),
            token_in == USDT,
            status,
            first,
            closed if executed else None,
            closed,
            _hash(order_id),
            10 + order_id,
            ROUTER if executed else None,
            None if out is None else Decimal(out),
            _hash(100 + order_id) if executed else None,
        )
    return first


async def _open(browser: Browser, url: str, errors: list[str]) -> Page:
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url + "/?symbol=ETHUSDT&timeframe=1")
    await page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    return page


async def test_the_dex_orders_are_markers_on_the_candles_with_a_tooltip(
    browser: Browser, serve: Serve, market: datetime, tmp_path: Path
) -> None:
    url = await serve(order_markets=f"{WETH}/{USDT}=ETHUSDT")
    errors: list[str] = []
    page = await _open(browser, url, errors)
    try:
        await page.wait_for_function("Number(document.body.dataset.marks) === 3", timeout=30_000)
        markers = await page.evaluate("window.linkoraChart.markers()")
        minute = int(market.timestamp())
        assert [(m["id"], m["time"], m["shape"], m["position"], m["text"]) for m in markers] == [
            ("1", minute + 150 * 60, "arrowDown", "aboveBar", "S"),
            ("2", minute + 160 * 60, "arrowUp", "belowBar", "B"),
            ("3", minute + 170 * 60, "circle", "belowBar", "B"),
        ]
        assert [m["color"] for m in markers] == ["#ef5350", "#26a69a", "#8a94a6"]
        await page.screenshot(path=str(tmp_path / "chart-marks.png"))
        point = await page.evaluate("window.linkoraChart.markerPoint(1)")
        assert point is not None
        await page.mouse.move(point["x"], point["y"])
        await page.wait_for_selector("body[data-tooltip-mark='1']", timeout=10_000)
        tooltip = await page.locator("#mark-tooltip").inner_text()
        for line in (
            "Sell · EXECUTED · LIMIT #1",
            "Amount in: 0.5 of 0xc02a…6cc2",
            "Amount out: 1506.25 of 0xdac1…1ec7",
            "Price: 3012.5 USD (target)",
            f"Tx: {_hash(101)}",
        ):
            assert line in tooltip
        await page.screenshot(path=str(tmp_path / "chart-marks-tooltip.png"))
    finally:
        await page.close()
    assert errors == []


async def test_the_page_works_without_a_mapped_pair_and_asks_for_no_marks(
    browser: Browser, serve: Serve, market: datetime, tmp_path: Path
) -> None:
    url = await serve()
    errors: list[str] = []
    requested: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await page.goto(url + "/?symbol=ETHUSDT&timeframe=1")
        await page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert int(await page.evaluate("document.body.dataset.bars")) == MINUTES
        assert await page.evaluate("window.linkoraChart.markers()") == []
        assert await page.evaluate("document.body.dataset.marks") == "0"
        await page.screenshot(path=str(tmp_path / "chart-no-marks.png"))
    finally:
        await page.close()
    assert not [u for u in requested if "/udf/marks" in u]
    assert errors == []
