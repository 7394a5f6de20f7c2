"""The collector's METRICS_PORT server (linkora_core.status_server): `GET /health` (per-market
phase, backfill progress and lag, as JSON under `symbols`, keyed as status.py names markets;
always 200), given a readiness check `GET /ready` (200, or 503 naming every problem: database
or Redis unreachable, a background task down) and, given a registry, `GET /metrics`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from data_collector.status import CollectorStatus
from linkora_core import status_server
from linkora_core.epoch import now_ms
from linkora_core.status_server import Problems, ServiceStatus

Extra = Callable[[], dict[str, Any]]


def health_body(status: CollectorStatus, extra: dict[str, Any]) -> dict[str, Any]:
    now = now_ms()
    symbols = {name: st.describe(now) for name, st in status.named()}
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


async def start(
    status: CollectorStatus,
    extra: Extra,
    port: int,
    registry: CollectorRegistry | None = None,
    problems: Problems | None = None,
    host: str = "0.0.0.0",
) -> web.AppRunner:
    async def health() -> dict[str, Any]:
        return health_body(status, extra())

    return await status_server.start(ServiceStatus(health, problems, registry), host, port)
