"""Debian's headless Chromium for the chart page's tests, launched once per test module, and
the api-server under uvicorn over the test PostgreSQL and Redis for them to load the page from
(`serve(**overrides)` starts one and answers its base URL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright

from api_server.app import create_app
from api_server.settings import ApiSettings
from devstack.ports import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium: Playwright never downloads a browser of its own here."""
    assert CHROMIUM.exists(), "Debian's chromium is missing: `make setup` installs it"
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def serve(
    service_env: dict[str, str], clean_db: asyncpg.Pool
) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Start api-servers with settings overrides (no rate limit, no page cache, no rollup
    maintainer); each answers its base URL. All are stopped after the test."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> str:
        fields: dict[str, Any] = {name.lower(): value for name, value in service_env.items()}
        fields.update(rate_limit_per_second=0, candle_cache_seconds=0, **overrides)
        app = create_app(ApiSettings(**fields), maintain_rollups=False)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
        )
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for server, _ in servers:
            server.should_exit = True
        for _, task in servers:
            await asyncio.wait_for(task, 15)
