"""The order API application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from linkora_core import db
from order_system.api.health import health
from order_system.settings import OrderSettings


def create_app(settings: OrderSettings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.pool = await db.connect_pool(
            settings.db_dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    return Starlette(
        routes=[Route("/health", health)],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["GET", "OPTIONS"],
                allow_headers=["*"],
            )
        ],
        lifespan=lifespan,
    )
