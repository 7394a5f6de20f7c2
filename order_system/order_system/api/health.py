"""`GET /health` in the shape existing clients read, plus the indexer's progress on the chain."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from starlette.requests import Request

from linkora_core import db
from linkora_core.http import JSON
from order_system.api import queries
from order_system.events.rpc import JsonRpc, RpcError, RpcUnavailable


async def _chain_head(rpc: JsonRpc) -> int | None:
    try:
        async with asyncio.timeout(2):
            return int(await rpc.call("eth_blockNumber", []), 16)
    except (RpcUnavailable, RpcError, TimeoutError, ValueError, TypeError):
        return None


async def _indexer(pool: asyncpg.Pool, rpc: JsonRpc) -> dict[str, Any]:
    state = await queries.indexer_state(pool)
    head = await _chain_head(rpc)
    checkpoint = state.get("order_indexer.checkpoint")
    processed = None if checkpoint is None else orjson.loads(checkpoint["value"])["block"]
    alert = state.get("order_indexer.alert")
    return {
        "chain_head": head,
        "processed_block": processed,
        "lag_blocks": None if head is None or processed is None else max(0, head - processed),
        "last_progress_at": None if checkpoint is None else checkpoint["updated_at"].isoformat(),
        "indexer_alert": None if alert is None else orjson.loads(alert["value"])["message"],
    }


async def health(request: Request) -> JSON:
    pool: asyncpg.Pool = request.app.state.pool
    indexer: dict[str, Any] = {}
    try:
        async with pool.acquire(timeout=2) as connection:
            await connection.fetchval("SELECT 1", timeout=2)
        connection_state = "WORKING"
        indexer = await _indexer(pool, request.app.state.rpc)
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
                **indexer,
            },
            "status": "success",
        }
    )
