"""The processor's guards: one writer, the checkpoint, the chain it belongs to, orders first
seen after their creation and a write failing while the next range is prepared (the service
halting on an alert: test_events_service.py)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg
import orjson
import pytest
from contract_driver import LIMIT, ContractDriver
from indexing import clear, dump, index, processor

from order_system.events import store
from order_system.events.reorg import Halt
from order_system.events.service import _lock
from order_system.rpc import JsonRpc


async def test_a_second_writer_waits_for_the_advisory_lock(clean_db: asyncpg.Pool) -> None:
    async with clean_db.acquire() as first, clean_db.acquire() as second:
        assert await _lock(first, asyncio.Event())
        stop = asyncio.Event()
        waiting = asyncio.create_task(_lock(second, stop))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        stop.set()
        assert await waiting is False
        await first.execute("SELECT pg_advisory_unlock_all()")


async def test_a_batch_from_a_stale_checkpoint_is_refused(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    flow.create(
        flow.users[0], "ETH", "USDC", Decimal("0.1"), Decimal("1"), Decimal("0"), LIMIT, True
    )
    indexer = await index(clean_db, rpc, flow.deployment)
    stale = store.Batch(
        start=indexer.processed - 3,
        end=indexer.processed,
        orders=[],
        events=[],
        headers=[],
        decimals={},
        end_hash="0x" + "ab" * 32,
    )
    async with clean_db.acquire() as connection:
        with pytest.raises(store.CheckpointMoved):
            await store.write_batch(connection, stale, 16)


async def test_another_chain_or_a_node_restarted_from_genesis_halts(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    await index(clean_db, rpc, flow.deployment)
    await clean_db.execute(
        "UPDATE system_state SET value = jsonb_set(value, '{genesis_hash}', $1::jsonb) "
        "WHERE key = 'order_indexer.chain'",
        orjson.dumps("0x" + "00" * 32).decode(),
    )
    async with clean_db.acquire() as connection:
        with pytest.raises(Halt, match="node restarted from genesis"):
            await processor(connection, rpc, flow.deployment).prepare()


async def test_an_order_created_before_the_start_block_is_read_at_its_first_event(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    order_id, _ = flow.create(
        flow.users[1], "ETH", "USDC", Decimal("0.2"), Decimal("1.1"), Decimal("0"), LIMIT, True
    )
    start = flow.w3.eth.block_number + 1
    flow.modify(flow.users[1], order_id, Decimal("1.2"), 5_000_000)
    flow.execute_by_keeper(order_id)
    await index(clean_db, rpc, flow.deployment, start_block=start)
    row = await clean_db.fetchrow("SELECT * FROM orders WHERE id = $1", order_id)
    assert row["status"] == "EXECUTED" and row["target_price"] == Decimal("1.2")
    assert row["min_amount_out"] == Decimal("5") and row["amount_in"] == Decimal("0.2")
    kinds = await clean_db.fetch("SELECT event_type FROM order_events ORDER BY block_number")
    assert [k["event_type"] for k in kinds] == ["MODIFIED", "EXECUTED"]


async def test_a_write_failing_after_the_next_range_was_prepared_leaves_no_trace(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One block per range: the MODIFIED block's write fails only once the CANCELLED block
    after it has been prepared from the cache. The same processor then resumes from its
    checkpoint; rows prepared from the failed batch would show as a CANCELLED old status."""
    order_id, _ = flow.create(
        flow.users[0], "ETH", "USDC", Decimal("0.3"), Decimal("1.1"), Decimal("0"), LIMIT, True
    )
    flow.modify(flow.users[0], order_id, Decimal("1.2"), 7)
    flow.cancel(flow.users[0], order_id)
    write_batch, failed = store.write_batch, asyncio.Event()

    async def fails_once(connection: asyncpg.Connection, batch: store.Batch, keep: int) -> None:
        if not failed.is_set() and [e.event_type for e in batch.events] == ["MODIFIED"]:
            await asyncio.sleep(0.3)  # the processor prepares the next range meanwhile
            failed.set()
            raise RuntimeError("injected write failure")
        await write_batch(connection, batch, keep)

    monkeypatch.setattr(store, "write_batch", fails_once)
    async with clean_db.acquire() as connection:
        indexer = processor(connection, rpc, flow.deployment, initial_range=1, max_range=1)
        await indexer.prepare()
        with pytest.raises(RuntimeError, match="injected"):
            await indexer.sync()
        assert len(indexer.cache) == 0
        await indexer.sync()
    statuses = await clean_db.fetch(
        "SELECT event_type, old_status, new_status FROM order_events ORDER BY block_number"
    )
    assert [tuple(s) for s in statuses] == [
        ("CREATED", None, "PENDING"),
        ("MODIFIED", "PENDING", "PENDING"),
        ("CANCELLED", "PENDING", "CANCELLED"),
    ]
    indexed = await dump(clean_db)
    await clear(clean_db)
    await index(clean_db, rpc, flow.deployment)
    assert indexed == await dump(clean_db)
