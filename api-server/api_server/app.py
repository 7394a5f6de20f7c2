"""The api-server ASGI application: resources live in the lifespan, not in globals."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from api_server import candle_routes, market_routes
from api_server.errors import DATABASE_DOWN, database_unavailable
from api_server.health import health
from api_server.page_cache import PageCache
from api_server.rollups import RollupMaintainer
from api_server.settings import ApiSettings
from linkora_core import bus, db


def create_app(settings: ApiSettings, *, maintain_rollups: bool = True) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.pool = await db.connect_pool(
            settings.db_dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        app.state.redis = bus.connect(settings.redis_url)
        app.state.page_cache = PageCache(
            settings.candle_cache_seconds, settings.candle_cache_entries
        )
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if maintain_rollups:
            maintainer = RollupMaintainer(
                settings.db_dsn,
                interval=settings.rollup_interval,
                rescan_interval=settings.rollup_rescan_interval,
                startup_lookback=settings.rollup_startup_lookback,
            )
            app.state.rollups = maintainer
            tasks.append(asyncio.create_task(maintainer.run(stop), name="rollups"))
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, 10)
            await app.state.redis.aclose()
            await app.state.pool.close()

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/symbols", market_routes.symbols),
            Route("/candles", candle_routes.candles),
            Route("/orderbook", market_routes.orderbook),
            Route("/price", market_routes.price),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "OPTIONS"],
                allow_headers=["*"],
                expose_headers=["Link", "Retry-After"],
            ),
        ],
        exception_handlers={kind: database_unavailable for kind in DATABASE_DOWN},
        lifespan=lifespan,
    )
