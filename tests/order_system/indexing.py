"""Running the processor in the test's event loop and reading the index back for comparison."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from order_system.deploy import Deployment
from order_system.events.chain import Chain
from order_system.events.processor import Processor
from order_system.rpc import JsonRpc
from order_system.settings import Tuning


def processor(
    connection: asyncpg.Connection, rpc: JsonRpc, deployment: Deployment, **tuning: Any
) -> Processor:
    settings = {"start_block": deployment.block_number, "confirmations": 0, **tuning}
    return Processor(
        connection, Chain(rpc, deployment.trading), Tuning(**settings), asyncio.Event()
    )


async def index(
    pool: asyncpg.Pool, rpc: JsonRpc, deployment: Deployment, **tuning: Any
) -> Processor:
    """Index from the deployment block up to the current head."""
    async with pool.acquire() as connection:
        indexer = processor(connection, rpc, deployment, **tuning)
        await indexer.prepare()
        await indexer.sync()
        return indexer


async def dump(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    """Everything the index holds that must not depend on how it was built."""
    orders = await pool.fetch("SELECT * FROM orders ORDER BY id")
    events = await pool.fetch(
        "SELECT order_id, event_type, old_status, new_status, tx_hash, block_number, block_hash, "
        "log_index, occurred_at, event_data, snapshot FROM order_events "
        "ORDER BY block_number, log_index"
    )
    dedupe = await pool.fetch(
        "SELECT block_hash, log_index, block_number, tx_hash FROM processed_events "
        "ORDER BY block_number, log_index"
    )
    checkpoint = await pool.fetchval(
        "SELECT value FROM system_state WHERE key = 'order_indexer.checkpoint'"
    )
    counts = await pool.fetch(
        "SELECT user_address, status, n FROM order_counts WHERE n <> 0 "
        "ORDER BY user_address, status"
    )
    recount = await pool.fetch(
        "SELECT who AS user_address, status, count(*) AS n FROM orders "
        "CROSS JOIN LATERAL (VALUES (user_address), ('')) AS w(who) "
        "GROUP BY who, status ORDER BY who, status"
    )
    assert [dict(r) for r in counts] == [dict(r) for r in recount]
    return {
        "orders": [dict(row) for row in orders],
        "events": [dict(row) for row in events],
        "processed": [dict(row) for row in dedupe],
        "checkpoint": [{"value": checkpoint}],
    }


async def clear(pool: asyncpg.Pool) -> None:
    await pool.execute("TRUNCATE orders, order_events, block_hashes, system_state RESTART IDENTITY")
