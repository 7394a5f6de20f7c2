"""`GET /health` in the shape existing clients read, plus Redis-free chain progress later."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from starlette.requests import Request

from linkora_core import db
from linkora_core.http import JSON


async def health(request: Request) -> JSON:
    pool: asyncpg.Pool = request.app.state.pool
    try:
        async with pool.acquire(timeout=2) as connection:
            await connection.fetchval("SELECT 1", timeout=2)
        connection_state = "WORKING"
    except (*db.UNAVAILABLE, asyncpg.PostgresError) as error:
        connection_state = f"ERROR: {error}"
    healthy = connection_state == "WORKING"
    return JSON(
        {
            "overall_status": "healthy" if healthy else "unhealthy",
            "components": {
                "order_api": "HEALTHY",
                "database": "HEALTHY" if healthy else "UNHEALTHY",
                "timestamp": datetime.now(UTC).isoformat(),
                "database_connection": connection_state,
            },
            "status": "success",
        }
    )
