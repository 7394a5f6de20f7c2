"""The order API application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from linkora_core import db, http
from linkora_core.metrics import ServiceMetrics
from linkora_core.readiness import CachedCheck
from order_system.api import openapi, orders, queries
from order_system.api.health import Readiness, health, ready
from order_system.events.rpc import JsonRpc
from order_system.settings import OrderSettings


def create_app(settings: OrderSettings) -> Starlette:
    metrics = ServiceMetrics("order-api")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        # Requests only read, leaving no session state: connections go back without a reset.
        app.state.pool = await db.connect_pool(
            settings.db_dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            reset_on_release=False,
            statement_timeout=settings.db_statement_timeout,
            acquire_timeout=settings.db_acquire_timeout,
        )
        # Health asks once and reports: a rate-limited answer is not waited out.
        app.state.rpc = JsonRpc(settings.web3_provider, timeout=2.0, rate_limit_retries=0)
        try:
            yield
        finally:
            await app.state.rpc.close()
            await app.state.pool.close()

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/ready", ready),
            metrics.route(),
            *orders.routes,
            *openapi.routes(),
        ],
        middleware=http.middleware(settings, metrics=metrics),
        exception_handlers=http.exception_handlers(),
        lifespan=lifespan,
    )
    app.state.readiness = Readiness(app.state)
    app.state.statistics = CachedCheck(
        lambda: queries.statistics(app.state.pool), ttl=settings.statistics_cache_seconds
    )
    return app
