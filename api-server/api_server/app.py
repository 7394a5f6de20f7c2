"""The api-server ASGI application: resources live in the lifespan, not in globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from api_server.health import health
from api_server.settings import ApiSettings
from linkora_core import bus, db


def create_app(settings: ApiSettings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.pool = await db.connect_pool(
            settings.db_dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        app.state.redis = bus.connect(settings.redis_url)
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await app.state.pool.close()

    return Starlette(
        routes=[Route("/health", health)],
        middleware=[Middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                               allow_methods=["GET", "OPTIONS"], allow_headers=["*"])],
        lifespan=lifespan,
    )
