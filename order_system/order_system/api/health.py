"""`GET /health` in the shape existing clients read, plus the indexer's progress on the chain
(always 200). `GET /ready`: 200 while the database answers, else 503 naming it, so a load
balancer drains a replica that cannot serve. The database, the indexer's state and the node's
head are each asked at most about once a second (CachedCheck), whatever the request rate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.datastructures import State
from starlette.requests import Request

from linkora_core import db
from linkora_core.http import JSON
from linkora_core.readiness import CachedCheck
from order_system import indexer_state
from order_system.indexer_state import Progress


async def _database_error(pool: asyncpg.Pool) -> str | None:
    """None when a trivial query answers within db.HEALTH_TIMEOUT, else what went wrong."""
    try:
        async with asyncio.timeout(db.HEALTH_TIMEOUT):
            await pool.fetchval("SELECT 1")
    except (*db.UNAVAILABLE, asyncpg.PostgresError) as error:
        return str(error) or type(error).__name__
    return None


async def _indexer_progress(pool: asyncpg.Pool) -> Progress | None:
    try:
        async with asyncio.timeout(db.HEALTH_TIMEOUT):
            return await indexer_state.progress(pool)
    except (*db.UNAVAILABLE, asyncpg.PostgresError):
        return None


class Readiness:
    """The cached checks behind `/health` and `/ready`; the pool and the node client are read
    from the app's state at each check."""

    def __init__(self, state: State) -> None:
        self.database = CachedCheck(lambda: _database_error(state.pool))
        self.indexer_progress = CachedCheck(lambda: _indexer_progress(state.pool))
        self.chain_head = CachedCheck(lambda: state.rpc.head_or_none())

    async def problems(self) -> dict[str, str]:
        return {} if await self.database.get() is None else {"database": "unreachable"}

    async def indexer(self) -> dict[str, Any]:
        progress = await self.indexer_progress.get()
        if progress is None:
            return {}
        head = await self.chain_head.get()
        checkpoint, at = progress.checkpoint, progress.checkpoint_at
        processed = None if checkpoint is None else checkpoint.block
        return {
            "chain_head": head,
            "processed_block": processed,
            "lag_blocks": None if head is None or processed is None else max(0, head - processed),
            "last_progress_at": None if at is None else at.isoformat(),
            "indexer_alert": progress.alert,
        }


async def health(request: Request) -> JSON:
    readiness: Readiness = request.app.state.readiness
    error = await readiness.database.get()
    healthy = error is None
    indexer = await readiness.indexer() if healthy else {}
    return JSON(
        {
            "overall_status": "healthy" if healthy else "unhealthy",
            "components": {
                "order_api": "HEALTHY",
                "database": "HEALTHY" if healthy else "UNHEALTHY",
                "timestamp": datetime.now(UTC).isoformat(),
                "database_connection": "WORKING" if healthy else f"ERROR: {error}",
                **indexer,
            },
            "status": "success",
        }
    )
