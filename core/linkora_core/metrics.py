"""Prometheus metrics shared by the services: request latency for the Starlette APIs and
the text exposition of a registry.

Every app owns a `CollectorRegistry` (never the process-wide default), so creating several
apps in one test process registers nothing twice. Figures a service already counts (clients,
messages, lag) are read at scrape time by small `Collector`s instead of being copied into
metric objects on the hot path."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CONTENT_TYPE_LATEST",
    "FunctionCollector",
    "RequestMetrics",
    "ServiceMetrics",
    "exposition",
]

# Seconds; dense below 100 ms where the cached candle pages and health checks answer.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "<unmatched>"


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus' text format, with its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


class FunctionCollector(Collector):
    """A collector whose metric families come from a function called at every scrape."""

    def __init__(self, produce: Callable[[], Iterable[Metric]]) -> None:
        self._produce = produce

    def collect(self) -> Iterable[Metric]:
        return list(self._produce())


class ServiceMetrics:
    """One API's registry: the request histogram, the `/metrics` route, and room for the
    service's own collectors."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["service", "method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.service = service
        # Awaited before each scrape: figures that need I/O (a query) are refreshed here, as
        # a collector's collect() is called synchronously.
        self.before_scrape: list[Callable[[], Awaitable[object]]] = []

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(self.service, method, route, str(status)).observe(seconds)

    async def endpoint(self, _: Request) -> Response:
        for refresh in self.before_scrape:
            await refresh()
        body, content_type = exposition(self.registry)
        return Response(body, headers={"Content-Type": content_type})

    def route(self, path: str = "/metrics") -> Route:
        return Route(path, self.endpoint, include_in_schema=False)


def route_template(routes: Iterable[BaseRoute], scope: Scope) -> str:
    """The path template (`/orders/{order_id}`) the request matched, so that label values
    stay bounded whatever paths clients send. A path matched with another method (a CORS
    preflight, a 405) keeps its template."""
    partial = UNMATCHED
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED))
        if match is Match.PARTIAL and partial == UNMATCHED:
            partial = str(getattr(candidate, "path", UNMATCHED))
    return partial


class RequestMetrics:
    """ASGI middleware timing every HTTP request, outermost so rejected requests (429) count."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            routes: Iterable[BaseRoute] = getattr(scope.get("app"), "routes", ())
            self.metrics.observe(
                scope["method"],
                route_template(routes, scope),
                status,
                time.perf_counter() - started,
            )
