"""The chart page's operator view in Debian's headless Chromium, the api-server under uvicorn
over the test PostgreSQL and Redis: a progress bar over the chart while the selected market
backfills (reports published on Redis `progress` as a collector does), replaced by the chart,
history reloaded, when the backfill is done; the operator section listing, adding and removing
markets through the real admin API with the token kept in session storage, showing the API's
errors; the system panel fed by the `system` stream; the WebSocket help the page shows.
Screenshots go to the test's tmp dir."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, Dialog, Page
from redis.asyncio import Redis

from linkora_core import bus, progress_messages
from linkora_core.markets import BINANCE_SPOT, Market
from linkora_core.progress_messages import ProgressReport, Status
from tests.polling import eventually

TOKEN = "chart-operator-test-token-0123"
MINUTES = 180
EARLIER = 120  # the minutes "backfilled" while the bar shows
BTC = Market(BINANCE_SPOT, "BTCUSDT")
TOTAL = 525_600
SEEDED = {"binance:spot:BTCUSDT": "realtime", "bybit:linear:ETHUSDT": "backfill"}
# Start a server with settings overrides; answers its base URL.
Serve = Callable[..., Awaitable[str]]


async def store_minutes(db: asyncpg.Pool, first: datetime, count: int) -> None:
    rows = []
    for i in range(count):
        base = Decimal(60_000) + Decimal(i % 23) * 5
        rows.append((first + timedelta(minutes=i), base, base + 12, base - 9, base + 3))
    await db.executemany(
        "INSERT INTO candles (symbol, open_time, open_price, high_price, low_price, close_price,"
        " volume, quote_volume, trades, taker_buy_volume, taker_buy_quote_volume, is_closed)"
        " VALUES ('BTCUSDT', $1, $2, $3, $4, $5, 2, 120000, 10, 1, 60000, true)",
        rows,
    )


@pytest.fixture
async def market(clean_db: asyncpg.Pool) -> datetime:
    """Three hours of BTCUSDT minutes up to now, collected (desired state and collector
    state), and Bybit linear ETHUSDT added and a tenth backfilled. Answers the first minute."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first = now - timedelta(minutes=MINUTES - 1)
    await store_minutes(clean_db, first, MINUTES)
    await clean_db.executemany(
        "INSERT INTO control_markets (venue, symbol, added_by) VALUES ($1, $2, 'seed')",
        [("binance-spot", "BTCUSDT"), ("bybit-linear", "ETHUSDT")],
    )
    await clean_db.executemany(
        "INSERT INTO collector_state (venue, symbol, phase, last_closed_minute, backfill_done,"
        " backfill_total) VALUES ($1, $2, $3, $4, $5, $6)",
        [
            ("binance-spot", "BTCUSDT", "realtime", now - timedelta(minutes=1), MINUTES, MINUTES),
            ("bybit-linear", "ETHUSDT", "backfill", None, 10, 100),
        ],
    )
    return first


async def open_page(browser: Browser, url: str, errors: list[str]) -> Page:
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url + "/?symbol=BTCUSDT&timeframe=1")
    await page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    return page


def report(done: int, status: Status = "running") -> bytes:
    eta = (TOTAL - done) // 20_000 if status == "running" else 0
    message = "backfilling from 2025-12-01" if status == "running" else "backfill done"
    return progress_messages.encode(ProgressReport(BTC, status, message, done, TOTAL, 20_000, eta))


async def dataset(page: Page, name: str) -> str:
    return str(await page.evaluate(f"document.body.dataset.{name} || ''"))


async def test_a_backfill_shows_a_progress_bar_then_the_chart_with_its_history(
    browser: Browser,
    serve: Serve,
    market: datetime,
    redis: Redis,
    clean_db: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    url = await serve(admin_token=TOKEN)
    errors: list[str] = []
    page = await open_page(browser, url, errors)
    stop = asyncio.Event()

    async def collector() -> None:
        """Reports as a collector sends them, a few a second, until told to stop."""
        done = 180_000
        while not stop.is_set():
            await redis.publish(bus.PROGRESS, report(done))
            done = min(TOTAL - 1, done + 7_000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.3)

    feeding = asyncio.create_task(collector())
    try:
        assert int(await dataset(page, "bars")) == MINUTES
        await page.wait_for_selector("#backfill", state="visible", timeout=15_000)
        await page.wait_for_function("document.body.dataset.backfill === 'running'")
        await page.wait_for_function("parseFloat(document.body.dataset.backfillPercent) > 35")
        figures = await page.locator("#backfill-figures").inner_text()
        assert " / 525,600 minutes" in figures and "20,000 candles/s" in figures
        assert "ETA " in figures and "%" in figures
        assert "BTCUSDT" in await page.locator("#backfill-market").inner_text()
        percent = float(await dataset(page, "backfillPercent"))
        width = await page.evaluate("document.getElementById('backfill-fill').style.width")
        assert width.endswith("%") and abs(float(width[:-1]) - percent) < 5
        await page.screenshot(path=str(tmp_path / "backfill-running.png"))

        # The backfill writes the older minutes, then reports done.
        await store_minutes(clean_db, market - timedelta(minutes=EARLIER), EARLIER)
        stop.set()
        await feeding
        await redis.publish(bus.PROGRESS, report(TOTAL, "done"))
        await page.wait_for_function("document.body.dataset.backfill === 'done'", timeout=15_000)
        await page.wait_for_selector("#backfill", state="hidden")
        await page.wait_for_function(
            f"Number(document.body.dataset.bars) === {MINUTES + EARLIER}", timeout=15_000
        )
        bars = await page.evaluate("window.linkoraChart.candles()")
        assert bars[0]["time"] == int((market - timedelta(minutes=EARLIER)).timestamp())
        await page.screenshot(path=str(tmp_path / "backfill-done.png"))
    finally:
        stop.set()
        await feeding
        await page.close()
    assert errors == []


async def admin_rows(page: Page) -> dict[str, str]:
    """Each listed market's state."""
    rows: dict[str, str] = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#admin-rows tr')]"
        ".map((tr) => [tr.dataset.market, tr.dataset.state]))"
    )
    return rows


async def until_rows(page: Page, expected: dict[str, str]) -> None:
    async def listed() -> bool:
        return await admin_rows(page) == expected

    await eventually(listed, 15, what=f"the operator section listing {expected}")


async def test_the_operator_section_lists_adds_and_removes_markets_through_the_admin_api(
    browser: Browser, serve: Serve, market: datetime, clean_db: asyncpg.Pool, tmp_path: Path
) -> None:
    url = await serve(admin_token=TOKEN)
    errors: list[str] = []
    page = await open_page(browser, url, errors)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    answers: list[bool] = []

    async def on_dialog(dialog: Dialog) -> None:
        if answers.pop(0):
            await dialog.accept()
        else:
            await dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        await page.click("#operator summary")
        # A wrong token: the API's 403 is shown, nothing listed.
        await page.fill("#admin-token", "not-the-token-at-all")
        await page.click("#token-use")
        await page.wait_for_selector("#admin-error:not([hidden])")
        assert (await page.locator("#admin-error").inner_text()).startswith("403 ")
        assert await dataset(page, "adminRows") == "0"
        await page.screenshot(path=str(tmp_path / "operator-wrong-token.png"), full_page=True)

        await page.fill("#admin-token", TOKEN)
        await page.click("#token-use")
        await until_rows(page, SEEDED)
        assert await page.locator("#admin-error").is_hidden()
        eth = page.locator("#admin-rows tr[data-market='bybit:linear:ETHUSDT']")
        assert "10.0 % (10 / 100)" in await eth.inner_text()
        # The token is in this tab's session storage, and in no address the page asked for.
        assert await page.evaluate("sessionStorage.getItem('linkora.adminToken')") == TOKEN
        assert await page.input_value("#admin-token") == ""
        assert not [u for u in requested if TOKEN in u] and TOKEN not in page.url

        # Add a market with a start date.
        start = (datetime.now(UTC) - timedelta(days=30)).date()
        await page.select_option("#add-exchange", "okx")
        await page.select_option("#add-kind", "swap")
        await page.fill("#add-symbol", "btc-usdt-swap")
        await page.fill("#add-start", start.isoformat())
        await page.click("#add-button")
        await until_rows(page, {**SEEDED, "okx:swap:BTC-USDT-SWAP": "pending"})
        added = await clean_db.fetchrow(
            "SELECT start_date, added_by, removed_at FROM control_markets"
            " WHERE venue = 'okx-swap' AND symbol = 'BTC-USDT-SWAP'"
        )
        assert added is not None and added["removed_at"] is None
        assert added["start_date"].date() == start
        okx = page.locator("#admin-rows tr[data-market='okx:swap:BTC-USDT-SWAP']")
        assert start.isoformat() in await okx.inner_text()
        await page.screenshot(path=str(tmp_path / "operator-added.png"), full_page=True)

        # The API's refusals are shown as it said them, and change nothing.
        before = await clean_db.fetchval("SELECT count(*) FROM control_markets")
        await page.select_option("#add-exchange", "bybit")
        await page.select_option("#add-kind", "linear")
        await page.fill("#add-symbol", "b@d!")
        await page.click("#add-button")
        await page.wait_for_function("(document.body.dataset.adminError || '').startsWith('400 ')")
        await page.fill("#add-symbol", "ETHUSDT")
        await page.click("#add-button")
        await page.wait_for_function("(document.body.dataset.adminError || '').startsWith('409 ')")
        # The refusal stays shown while the list is read again, until the next action.
        loads = int(await dataset(page, "adminLoads"))
        await page.wait_for_function(f"Number(document.body.dataset.adminLoads) > {loads}")
        assert await page.locator("#admin-error").is_visible()
        assert "collected already" in await page.locator("#admin-error").inner_text()
        assert await clean_db.fetchval("SELECT count(*) FROM control_markets") == before
        await page.screenshot(path=str(tmp_path / "operator-error.png"), full_page=True)

        # Remove: nothing happens when the confirmation is declined, the market goes when not.
        remove = okx.locator("button")
        answers.append(False)
        loads = int(await dataset(page, "adminLoads"))
        await remove.click()
        # The list is read again (every 3 s) after the click: still collected.
        await page.wait_for_function(f"Number(document.body.dataset.adminLoads) > {loads}")
        assert answers == [] and await okx.get_attribute("data-state") == "pending"
        removed_at = "SELECT removed_at FROM control_markets WHERE venue = 'okx-swap'"
        assert await clean_db.fetchval(removed_at) is None
        answers.append(True)
        await remove.click()
        await until_rows(page, {**SEEDED, "okx:swap:BTC-USDT-SWAP": "removed"})
        assert await okx.locator("button").count() == 0
        assert await clean_db.fetchval(removed_at) is not None

        # Removing the market the chart shows: its live sockets are told, the page says so.
        answers.append(True)
        await page.locator("#admin-rows tr[data-market='binance:spot:BTCUSDT'] button").click()
        await page.wait_for_function(
            "document.body.dataset.marketRemoved === 'binance:spot:BTCUSDT'", timeout=15_000
        )
        status = await page.locator("#status").inner_text()
        assert status == "binance:spot:BTCUSDT is no longer collected"
        gone = {"binance:spot:BTCUSDT": "removed", "okx:swap:BTC-USDT-SWAP": "removed"}
        await until_rows(page, {**SEEDED, **gone})
        await page.screenshot(path=str(tmp_path / "operator-removed.png"), full_page=True)
        actions = await clean_db.fetch("SELECT action, target FROM admin_audit ORDER BY id")
        assert [(r["action"], r["target"]) for r in actions] == [
            ("market_added", "okx:swap:BTC-USDT-SWAP"),
            ("market_removed", "okx:swap:BTC-USDT-SWAP"),
            ("market_removed", "binance:spot:BTCUSDT"),
        ]

        # Forgetting the token empties the list and the storage.
        await page.click("#token-forget")
        assert await page.evaluate("sessionStorage.getItem('linkora.adminToken')") is None
        assert await dataset(page, "adminRows") == "0"
    finally:
        await page.close()
    assert errors == []


async def test_the_system_panel_shows_the_host_the_database_and_the_services_and_help(
    browser: Browser, serve: Serve, market: datetime, tmp_path: Path
) -> None:
    url = await serve(admin_token=TOKEN, ws_system_interval=0.5)
    errors: list[str] = []
    page = await open_page(browser, url, errors)
    try:
        await page.wait_for_function(
            "Number(document.body.dataset.systemTicks) >= 3"
            " && Number(document.body.dataset.systemUp) >= 1",
            timeout=20_000,
        )
        figures = await page.locator("#system-figures").inner_text()
        for name in ("CPU", "Memory", "Disk free", "Database"):
            assert name in figures
        assert "unreachable" not in figures
        database = await page.locator("#system-figures dd[data-figure='database']").inner_text()
        assert database.endswith(("KB", "MB", "GB"))
        service = page.locator("#system-services li[data-service='api-server']")
        assert await service.count() >= 1
        assert "up" in (await service.first.get_attribute("class") or "")
        await page.locator("#system-panel").screenshot(path=str(tmp_path / "system-panel.png"))
        await page.screenshot(path=str(tmp_path / "system-page.png"))
        # The page's WebSocket help is the server's own answer to the help command.
        await page.click("#ws-help summary")
        await page.wait_for_function("document.body.dataset.helpLoaded === 'true'")
        help_text = await page.locator("#ws-help-body").inner_text()
        for name in ("subscribe", "command", "progress", "system", "market_removed", "status"):
            assert name in help_text
        await page.locator("#ws-help").screenshot(path=str(tmp_path / "ws-help.png"))
    finally:
        await page.close()
    assert errors == []
