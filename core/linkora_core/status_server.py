"""The small HTTP server of a worker process (one without an HTTP API of its own), on
METRICS_PORT: `GET /health` (always 200: what the service says of itself, as JSON), `GET /ready`
(200, or 503 naming every problem) and `GET /metrics` (Prometheus text). A route the service has
nothing for is not served (404).

aiohttp, not Starlette: the workers already depend on it and need no ASGI server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry

from linkora_core.metrics import exposition
from linkora_core.readiness import verdict

Health = Callable[[], Awaitable[dict[str, Any]]]
Problems = Callable[[], Awaitable[dict[str, str]]]


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """What a service tells about itself: `health()` the `/health` body, `problems()` what
    keeps it from being ready, `registry` its metrics."""

    health: Health
    problems: Problems | None = None
    registry: CollectorRegistry | None = None


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def make_app(service: ServiceStatus) -> web.Application:
    async def health(_: web.Request) -> web.Response:
        return _json(await service.health())

    async def ready(_: web.Request) -> web.Response:
        assert service.problems is not None
        body, status = verdict(await service.problems())
        return _json(body, status)

    async def metrics(_: web.Request) -> web.Response:
        assert service.registry is not None
        body, content_type = exposition(service.registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/health", health)
    if service.problems is not None:
        app.router.add_get("/ready", ready)
    if service.registry is not None:
        app.router.add_get("/metrics", metrics)
    return app


async def start(service: ServiceStatus, host: str, port: int) -> web.AppRunner:
    """Serve on `host`:`port` until the returned runner's `cleanup()`."""
    runner = web.AppRunner(make_app(service), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
