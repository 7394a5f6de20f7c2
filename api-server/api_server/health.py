"""`GET /health`: always 200; says which dependencies answer."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from linkora_core import bus, db
from linkora_core.http import JSON


async def health(request: Request) -> JSON:
    state = request.app.state
    database = await db.is_healthy(state.pool)
    redis = await bus.is_healthy(state.redis)
    return JSON(
        {
            "status": "healthy" if database and redis else "degraded",
            "timestamp": datetime.now(UTC).isoformat(),
            "database": "healthy" if database else "unhealthy",
            "redis": "healthy" if redis else "unhealthy",
            "live_feed": "subscribed" if state.live_feed.connected else "disconnected",
            "websocket_clients": state.hub.clients,
        }
    )
