"""The api-server ASGI application: resources live in the lifespan, not in globals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from api_server import (
    admin_routes,
    asyncapi,
    candle_routes,
    exchange_routes,
    heartbeat_report,
    market_routes,
    openapi,
    page_routes,
    system_metrics,
    system_view,
    udf_routes,
)
from api_server.admin_auth import AdminGuard
from api_server.candle_reader import FrontierCache
from api_server.control_watch import ControlWatch
from api_server.health import Readiness, health
from api_server.live_feed import LiveFeed
from api_server.metrics import hub_metrics, rollup_metrics
from api_server.page_cache import PageCache
from api_server.rollups import RollupMaintainer
from api_server.settings import ApiSettings
from api_server.system_feed import SystemFeed
from api_server.system_view import SystemView
from api_server.ws_context import WsContext
from api_server.ws_endpoint import websocket_endpoint
from api_server.ws_hub import Hub
from linkora_core import bus, http
from linkora_core.heartbeat import Heartbeat
from linkora_core.metrics import FunctionCollector, ServiceMetrics
from linkora_core.ratelimit import ClientAddress, RateLimiter
from linkora_core.tasks import BackgroundTasks


def create_app(settings: ApiSettings, *, maintain_rollups: bool = True) -> Starlette:
    metrics = ServiceMetrics("api-server")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.started_at = datetime.now(UTC)
        app.state.pool = await http.read_pool(settings)
        view = app.state.system = SystemView(app.state.pool, app.state.started_at)
        system_collector = FunctionCollector(lambda: system_metrics.system_metrics(view.latest))
        metrics.registry.register(system_collector)
        metrics.before_scrape.append(lambda: system_metrics.refresh(view))
        app.state.redis = bus.connect(settings.redis_url)
        app.state.page_cache = PageCache(settings.candle_cache_seconds, settings.candle_cache_bytes)
        app.state.frontiers = FrontierCache(settings.rollup_frontier_cache_seconds)
        app.state.client_address = ClientAddress(settings.trusted_proxies)
        app.state.admin_guard = AdminGuard.from_settings(settings, app.state.client_address)
        app.state.ws_handshakes = (
            RateLimiter(settings.ws_handshake_rate, settings.ws_handshake_burst)
            if settings.ws_handshake_rate > 0
            else None
        )
        app.state.hub = Hub()
        hub_collector = FunctionCollector(lambda: hub_metrics(app.state.hub))
        metrics.registry.register(hub_collector)
        feed = LiveFeed(
            settings.redis_url,
            app.state.hub,
            app.state.pool,
            update_interval=settings.ws_update_interval,
            ping_interval=settings.redis_ping_interval,
        )
        app.state.live_feed = feed
        control = ControlWatch(
            settings.db_dsn, app.state.pool, feed, update_interval=settings.ws_update_interval
        )
        interval = settings.ws_system_interval
        # The system stream shares the snapshot /system and /metrics read (app.state.system).
        system = SystemFeed(app.state.hub, lambda: app.state.system.get(interval / 2), interval)
        app.state.ws = WsContext(app.state.hub, settings, feed, system, control)
        stop = asyncio.Event()
        tasks = app.state.tasks = BackgroundTasks("api-server", stop=stop)
        tasks.start("live-feed", lambda: feed.run(stop))
        tasks.start("live-flush", lambda: feed.flush_loop(stop))
        tasks.start("control-watch", lambda: control.run(stop))
        tasks.start("system-feed", lambda: system.run(stop))
        app.state.rollups = None
        if maintain_rollups:
            maintainer = RollupMaintainer(settings.db_dsn, interval=settings.rollup_interval)
            app.state.rollups = maintainer
            tasks.start("rollups", lambda: maintainer.run(stop))
        rollup_collector = FunctionCollector(lambda: rollup_metrics(app.state.rollups))
        metrics.registry.register(rollup_collector)
        app.state.readiness = Readiness(app.state, tasks)
        heartbeat = Heartbeat(
            app.state.pool, "api-server", lambda: heartbeat_report.report(app.state.hub, tasks)
        )
        heartbeat.start()
        try:
            yield
        finally:
            # Background work is idempotent (upserts, a subscription): cancelling is safe.
            stop.set()
            await tasks.close()
            await heartbeat.close()
            await app.state.redis.aclose()
            await app.state.pool.close()
            metrics.registry.unregister(hub_collector)
            metrics.registry.unregister(rollup_collector)
            metrics.registry.unregister(system_collector)
            metrics.before_scrape.clear()

    return http.api(
        settings,
        metrics,
        openapi.DOCUMENT,
        [
            Route("/symbols", market_routes.symbols),
            Route("/candles", candle_routes.candles),
            Route("/orderbook", market_routes.orderbook),
            Route("/price", market_routes.price),
            Route("/exchanges", exchange_routes.exchanges),
            Route("/exchanges/status", exchange_routes.status),
            Route("/exchanges/{exchange}/markets", exchange_routes.exchange_markets),
            Route("/exchanges/{exchange}/timeframes", exchange_routes.timeframes),
            Route("/tickers", exchange_routes.ticker_list),
            Route("/udf/config", udf_routes.config),
            Route("/udf/symbols", udf_routes.symbols),
            Route("/udf/search", udf_routes.search),
            Route("/udf/history", udf_routes.history),
            Route("/udf/marks", udf_routes.marks),
            Route("/udf/timescale_marks", udf_routes.timescale_marks),
            Route("/udf/time", udf_routes.server_time),
            Route("/udf/quotes", exchange_routes.quotes),
            Route("/system", system_view.system),
            asyncapi.ROUTE,
            *admin_routes.routes(),
            WebSocketRoute("/ws", websocket_endpoint),
            *page_routes.routes(),
        ],
        health=health,
        lifespan=lifespan,
        expose_headers=["Link"],
        bad_request_body=udf_routes.bad_request_body,
    )
