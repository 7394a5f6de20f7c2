"""`GET /health` on METRICS_PORT: per-symbol phase, backfill progress and lag, as JSON."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from data_collector.status import CollectorStatus

Extra = Callable[[], dict[str, Any]]


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


def make_app(status: CollectorStatus, extra: Extra) -> web.Application:
    async def health(_: web.Request) -> web.Response:
        body = orjson.dumps(health_body(status, extra()))
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/health", health)
    return app


async def start(status: CollectorStatus, extra: Extra, port: int) -> web.AppRunner:
    runner = web.AppRunner(make_app(status, extra), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    return runner
