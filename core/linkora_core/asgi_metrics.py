"""The Starlette side of the APIs' metrics: the `/metrics` route and the middleware timing
every request by route template (linkora_core.metrics holds the registry)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linkora_core.metrics import ServiceMetrics

__all__ = ["RequestMetrics", "metrics_route", "route_template"]

UNMATCHED = "<unmatched>"


def metrics_route(metrics: ServiceMetrics, path: str = "/metrics") -> Route:
    async def endpoint(_: Request) -> Response:
        body, content_type = await metrics.scrape()
        return Response(body, headers={"Content-Type": content_type})

    return Route(path, endpoint, include_in_schema=False)


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
