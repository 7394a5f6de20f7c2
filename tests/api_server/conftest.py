"""The api-server app running in the test's event loop (or under uvicorn) against the session's
PostgreSQL and Redis; rollups are driven by the tests themselves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from api_helpers import ADMIN_TOKEN, ServerFactory, settings_for
from starlette.applications import Starlette

from api_server.app import create_app
from api_server.ws_protocol import UVICORN_OPTIONS
from devstack.ports import free_port
from tests.http_checks import asgi_client


@pytest.fixture
def make_app(service_env: dict[str, str]) -> Callable[..., Starlette]:
    """`make_app(**settings)`: an app over the session's services, its lifespan not entered;
    rollups are left to the test unless `maintain_rollups=True`."""

    def make(*, maintain_rollups: bool = False, **overrides: Any) -> Starlette:
        settings = settings_for(service_env, **overrides)
        return create_app(settings, maintain_rollups=maintain_rollups)

    return make


@pytest.fixture
def app_settings() -> dict[str, Any]:
    """The settings `app` is made with; a test module overrides this fixture to change them."""
    return {
        "candle_cache_seconds": 0,
        "candle_live_cache_seconds": 0,
        "rollup_frontier_cache_seconds": 0,  # tests truncate rollups: frontiers move back
        "rate_limit_per_second": 0,
        "admin_token": ADMIN_TOKEN,
    }


@pytest.fixture
async def app(
    make_app: Callable[..., Starlette], app_settings: dict[str, Any], clean_db: asyncpg.Pool
) -> AsyncIterator[Starlette]:
    """The app with its lifespan entered; rollups are driven by the tests themselves."""
    application = make_app(**app_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "http://api") as http:
        yield http


@pytest.fixture
async def live_server(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> AsyncIterator[ServerFactory]:
    """Start the app under a real uvicorn in this event loop: `(app, "ws://host:port")`."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> tuple[Starlette, str]:
        overrides.setdefault("candle_cache_seconds", 0)
        overrides.setdefault("candle_live_cache_seconds", 0)
        overrides.setdefault("rollup_frontier_cache_seconds", 0)
        # `ws` picks uvicorn's WebSocket protocol (default: the api-server's own).
        ws = overrides.pop("ws", UVICORN_OPTIONS["ws"])
        application = make_app(**overrides)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                application,
                host="127.0.0.1",
                port=port,
                log_config=None,
                lifespan="on",
                ws=ws,
                ws_per_message_deflate=False,
            )
        )
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        return application, f"ws://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for server, _ in servers:
            server.should_exit = True
        for _, task in servers:
            await asyncio.wait_for(task, 15)
