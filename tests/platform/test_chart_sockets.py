"""The chart page's WebSockets in Debian's headless Chromium: two per viewer, the candles' and
the order book's, the latter also carrying the progress and system streams (subscribe messages)
and the help command; a timeframe switch replaces only the candles' socket; after the server
restarts, the book socket reconnects and subscribes to progress and system again; when the
market is removed the candles' socket ends and the book socket stays for the system panel."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from playwright.async_api import Browser, Page, WebSocket
from redis.asyncio import Redis

from api_server.app import create_app
from api_server.settings import ApiSettings
from devstack.ports import free_port
from linkora_core import bus
from tests.platform.test_chart_operator import dataset, market, report
from tests.polling import eventually

__all__ = ["market"]  # a fixture used here, defined with the operator view's tests

TOKEN = "chart-sockets-test-token-0123"
BOOK = "symbol=BTCUSDT&type=orderbook"
CANDLES = "symbol=BTCUSDT&timeframe={}&type=candles"


class Sockets:
    """Every WebSocket the page opened, with the messages it sent, and which are still open."""

    def __init__(self, page: Page) -> None:
        self.opened: list[WebSocket] = []
        self.sent: dict[int, list[dict[str, Any]]] = {}
        self.closed: set[int] = set()
        page.on("websocket", self._opened)

    def _opened(self, socket: WebSocket) -> None:
        index = len(self.opened)
        self.opened.append(socket)
        self.sent[index] = []
        socket.on("framesent", lambda payload: self.sent[index].append(orjson.loads(payload)))
        socket.on("close", lambda _: self.closed.add(index))

    def open_urls(self) -> list[str]:
        return [s.url for i, s in enumerate(self.opened) if i not in self.closed]

    def sent_on(self, url_end: str) -> list[list[dict[str, Any]]]:
        """What each socket whose address ends so sent (subscriptions and commands only)."""
        return [
            [m for m in self.sent[i] if m.get("type") in ("subscribe", "command")]
            for i, s in enumerate(self.opened)
            if s.url.endswith(url_end)
        ]


class Restartable:
    """The api-server under uvicorn on one port, stopped and started again on demand."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.port = free_port()
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        app = create_app(self.settings, maintain_rollups=False)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on"
        )
        config.timeout_graceful_shutdown = 2
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await asyncio.wait_for(self.task, 15)
        self.server = self.task = None


@pytest.fixture
async def api(service_env: dict[str, str], clean_db: object) -> AsyncIterator[Restartable]:
    fields: dict[str, Any] = {name.lower(): value for name, value in service_env.items()}
    fields.update(rate_limit_per_second=0, candle_cache_seconds=0, ws_system_interval=0.5)
    fields.update(admin_token=TOKEN)
    server = Restartable(ApiSettings(**fields))
    try:
        yield server
    finally:
        await server.stop()


async def ticks(page: Page) -> int:
    return int(await dataset(page, "systemTicks") or 0)


async def test_the_page_holds_two_sockets_and_resubscribes_after_a_reconnect(
    browser: Browser, api: Restartable, market: datetime, redis: Redis
) -> None:
    url = await api.start()
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    sockets = Sockets(page)
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url + "/?symbol=BTCUSDT&timeframe=1")
    await page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    try:
        await page.wait_for_function("Number(document.body.dataset.systemTicks) >= 2")

        async def progress_shown() -> bool:
            await redis.publish(bus.PROGRESS, report(200_000))
            return await dataset(page, "backfill") == "running"

        await eventually(progress_shown, 15, what="the progress bar never showed")
        await page.click("#ws-help summary")
        await page.wait_for_function("document.body.dataset.helpLoaded === 'true'")
        assert [u.split("?", 1)[1] for u in sockets.open_urls()] == [CANDLES.format(1), BOOK]
        assert len(sockets.opened) == 2
        progress = {"type": "subscribe", "stream": "progress", "symbol": "BTCUSDT"}
        system = {"type": "subscribe", "stream": "system"}
        help_command = {"type": "command", "data": "help"}
        assert sockets.sent_on(BOOK) == [[progress, system, help_command]]
        assert sockets.sent_on(CANDLES.format(1)) == [[]]

        # A timeframe switch replaces the candles' socket only; the system panel goes on.
        before = await ticks(page)
        await page.click("#timeframes button[data-timeframe='5']")
        await page.wait_for_function("document.body.dataset.timeframe === '5'")

        async def switched() -> bool:
            return [u.split("?", 1)[1] for u in sockets.open_urls()] == [BOOK, CANDLES.format(5)]

        await eventually(switched, 10, what="the candles' socket was not replaced")
        await page.wait_for_function(f"Number(document.body.dataset.systemTicks) > {before + 1}")
        assert len(sockets.opened) == 3

        # The server restarts: the book socket reconnects and subscribes again.
        await api.stop()
        await api.start()
        await eventually(
            lambda: len(sockets.sent_on(BOOK)) == 2,
            30,
            what="the book socket did not reconnect",
        )
        before = await ticks(page)
        await page.wait_for_function(
            f"Number(document.body.dataset.systemTicks) > {before + 1}", timeout=15_000
        )
        await eventually(
            lambda: sockets.sent_on(BOOK)[1] == [progress, system],
            10,
            what="the reconnected book socket did not subscribe again",
        )
        # The candles' socket came back resuming from just before its newest bar.
        reopened = sorted(u.split("?", 1)[1] for u in sockets.open_urls())
        assert reopened[0].startswith(CANDLES.format(5) + "&since=")
        assert reopened[1] == BOOK

        # The market is removed: its candles' socket ends, the book socket stays for the panel.
        async with httpx.AsyncClient(base_url=url) as client:
            answer = await client.delete(
                "/admin/markets/binance/spot/BTCUSDT",
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        assert answer.status_code == 200, answer.text
        await page.wait_for_function(
            "document.body.dataset.marketRemoved === 'binance:spot:BTCUSDT'", timeout=15_000
        )
        await eventually(
            lambda: [u.split("?", 1)[1] for u in sockets.open_urls()] == [BOOK],
            10,
            what="the removed market's candles socket did not end alone",
        )
        before = await ticks(page)
        await page.wait_for_function(
            f"Number(document.body.dataset.systemTicks) > {before + 1}", timeout=15_000
        )
        assert await page.locator("#status").inner_text() == (
            "binance:spot:BTCUSDT is no longer collected"
        )
        assert errors == []
    finally:
        with contextlib.suppress(Exception):
            await page.close()
