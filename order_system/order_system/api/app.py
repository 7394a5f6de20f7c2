"""The order API application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from linkora_core import http
from linkora_core.heartbeat import Heartbeat
from linkora_core.metrics import ServiceMetrics
from linkora_core.ratelimit import ClientAddress
from linkora_core.readiness import CachedCheck
from order_system.api import live_orders, openapi, orders, queries
from order_system.api.health import Readiness, health
from order_system.api.order_feed import OrderFeed
from order_system.rpc import JsonRpc
from order_system.settings import OrderSettings


def create_app(settings: OrderSettings) -> Starlette:
    metrics = ServiceMetrics("order-api")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.client_address = ClientAddress(settings.trusted_proxies)
        app.state.pool = await http.read_pool(settings)
        # Health asks once and reports: a rate-limited answer is not waited out.
        app.state.rpc = JsonRpc(settings.web3_provider, timeout=2.0, rate_limit_retries=0)
        heartbeat = Heartbeat(app.state.pool, "order-api")
        heartbeat.start()
        app.state.order_feed = feed = OrderFeed(
            settings.db_dsn, queue_limit=settings.order_ws_queue
        )
        stop = asyncio.Event()
        following = asyncio.create_task(feed.run(stop), name="order-feed")
        try:
            yield
        finally:
            stop.set()
            await following
            await heartbeat.close()
            await app.state.rpc.close()
            await app.state.pool.close()

    app = http.api(
        settings,
        metrics,
        openapi.DOCUMENT,
        [*orders.routes, *live_orders.routes],
        health=health,
        lifespan=lifespan,
    )
    app.state.readiness = Readiness(app.state)
    app.state.statistics = CachedCheck(
        lambda: queries.statistics(app.state.pool), ttl=settings.statistics_cache_seconds
    )
    return app
