"""METRICS_PORT: `GET /health` (per-symbol phase, backfill progress and lag, as JSON; always
200), given a readiness check `GET /ready` (200, or 503 naming every problem: database or
Redis unreachable, a background task down) and, given a registry, `GET /metrics`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry

from data_collector.status import CollectorStatus
from linkora_core.metrics import exposition
from linkora_core.readiness import verdict

Extra = Callable[[], dict[str, Any]]
Problems = Callable[[], Awaitable[dict[str, str]]]


def health_body(status: CollectorStatus, extra: dict[str, Any]) -> dict[str, Any]:
    now_ms = time.time_ns() // 1_000_000
    symbols = {s: st.describe(now_ms) for s, st in sorted(status.symbols.items())}
    degraded = any(st["phase"] == "error" for st in symbols.values()) or any(
        extra.get(part) == "unhealthy" for part in ("database", "redis")
    )
    return {
        "status": "degraded" if degraded else "healthy",
        "timestamp": datetime.now(UTC).isoformat(),
        "websocket_connected": status.websocket_connected,
        "symbols": symbols,
        **extra,
    }


def make_app(
    status: CollectorStatus,
    extra: Extra,
    registry: CollectorRegistry | None = None,
    problems: Problems | None = None,
) -> web.Application:
    async def health(_: web.Request) -> web.Response:
        body = orjson.dumps(health_body(status, extra()))
        return web.Response(body=body, content_type="application/json")

    async def ready(_: web.Request) -> web.Response:
        assert problems is not None
        body, code = verdict(await problems())
        return web.Response(body=orjson.dumps(body), status=code, content_type="application/json")

    async def metrics(_: web.Request) -> web.Response:
        assert registry is not None
        body, content_type = exposition(registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/health", health)
    if problems is not None:
        app.router.add_get("/ready", ready)
    if registry is not None:
        app.router.add_get("/metrics", metrics)
    return app


async def start(
    status: CollectorStatus,
    extra: Extra,
    port: int,
    registry: CollectorRegistry | None = None,
    problems: Problems | None = None,
) -> web.AppRunner:
    runner = web.AppRunner(make_app(status, extra, registry, problems), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    return runner
