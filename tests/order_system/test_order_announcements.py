"""Order events announced through the outbox on Hardhat: one message per event in the batch's
transaction, retractions when a reorg removes a released event, the replacement announced
once, and in confirmed delivery nothing of a removed fork ever released."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from contract_driver import LIMIT, STOP, ContractDriver
from indexing import clear, index, processor

from linkora_core import broker_messages
from order_system.rpc import JsonRpc

WINDOW = 8


def _orders(flow: ContractDriver, blocks: int, amount: str) -> None:
    """`blocks` blocks, each with one new order of alice or bob."""
    for i in range(blocks):
        user = flow.users[i % 2]
        flow.create(
            user, "ETH", "USDC", Decimal(amount) + i, Decimal("0.9"), Decimal("1"), LIMIT, True
        )


async def _outbox(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM outbox ORDER BY id")
    return [{**dict(row), "body": orjson.loads(row["body"])} for row in rows]


async def _event_ids(pool: asyncpg.Pool, chain_id: int) -> list[str]:
    rows = await pool.fetch(
        "SELECT block_hash, log_index FROM order_events ORDER BY block_number, log_index"
    )
    return [broker_messages.order_event_id(chain_id, r[0], r[1]) for r in rows]


async def test_each_event_is_announced_once_with_the_order_after_it(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    alice = flow.users[0]
    order_id, created = flow.create(
        alice, "ETH", "USDC", Decimal("0.05"), Decimal("1.05"), Decimal("0.000001"), STOP, True
    )
    flow.modify(alice, order_id, Decimal("1.25"), 2_000_000)  # 2 USDC (6 decimals)
    flow.cancel(alice, order_id)
    async with clean_db.acquire() as connection:
        indexer = processor(connection, rpc, flow.deployment, reorg_window=WINDOW)
        await indexer.prepare()
        await indexer.sync()
        await indexer.sync()  # a second pass writes nothing again
    rows = await _outbox(clean_db)
    assert [r["message_id"] for r in rows] == await _event_ids(clean_db, indexer.chain_id)
    assert [r["routing_key"] for r in rows] == [
        "orders.created",
        "orders.modified",
        "orders.cancelled",
    ]
    assert not any(r["held"] for r in rows)
    first, modified, cancelled = (r["body"] for r in rows)
    assert first["user_address"] == flow.w3.to_checksum_address(alice)
    assert first["tx_hash"] == created["transactionHash"].to_0x_hex()
    assert first["block_number"] == created["blockNumber"]
    assert first["order"]["amount_in"] == "0.05"
    assert first["order"]["min_amount_out"] == "0.000001"  # plain, never 1E-6
    assert first["order"]["status"] == "PENDING"
    assert (modified["order"]["target_price"], modified["order"]["min_amount_out"]) == ("1.25", "2")
    assert first["order"]["target_price"] == "1.05"  # each message holds the state after it
    assert cancelled["order"]["status"] == "CANCELLED"
    assert cancelled["event_type"] == "CANCELLED"
    assert {r["block_number"] for r in rows} == {
        b["block_number"] for b in (first, modified, cancelled)
    }


async def test_a_reorg_retracts_released_events_and_announces_the_replacements_once(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    _orders(flow, 2, "0.1")
    async with clean_db.acquire() as connection:
        indexer = processor(connection, rpc, flow.deployment, reorg_window=WINDOW)
        await indexer.prepare()
        await indexer.sync()
        snapshot = flow.rpc("evm_snapshot")
        kept = await _event_ids(clean_db, indexer.chain_id)
        _orders(flow, 3, "0.3")
        await indexer.sync()
        orphaned = (await _event_ids(clean_db, indexer.chain_id))[len(kept) :]
        assert flow.rpc("evm_revert", [snapshot]) is True
        _orders(flow, 4, "0.7")  # different blocks past the old height
        await indexer.sync()
        await indexer.sync()
    assert indexer.reorgs == 1
    assert (indexer.messages_written, indexer.retractions) == (2 + 3 + 4, 3)
    rows = await _outbox(clean_db)
    current = await _event_ids(clean_db, indexer.chain_id)
    replacements = current[len(kept) :]
    announced = [r["message_id"] for r in rows if r["routing_key"] != "orders.retracted"]
    # Each once, in the order written; the removed events' rows gave way to their retractions.
    assert announced == kept + replacements
    retracted = [r["body"] for r in rows if r["routing_key"] == "orders.retracted"]
    assert [b["retracted_message_id"] for b in retracted] == orphaned[::-1]  # newest first
    assert all(b["retracted_event_type"] == "CREATED" for b in retracted)
    assert all(b["order"] is None for b in retracted)  # the orders left the chain followed
    # Retracted before the replacements were written: a consumer undoes, then applies.
    ids = {r["message_id"]: r["id"] for r in rows}
    assert max(ids[b["message_id"]] for b in retracted) < min(ids[m] for m in replacements)
    assert not set(orphaned) & set(replacements)


async def test_indexing_again_after_a_reset_announces_nothing_twice(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    """The order tables reset (as a halt's message advises), the outbox kept: the chain is
    indexed again without failing on the ids already written, and none is written twice."""
    _orders(flow, 3, "0.1")
    await index(clean_db, rpc, flow.deployment)
    before = await _outbox(clean_db)
    await clear(clean_db)
    _orders(flow, 2, "0.5")
    indexer = await index(clean_db, rpc, flow.deployment)
    after = await _outbox(clean_db)
    assert after[: len(before)] == before
    assert [r["message_id"] for r in after] == await _event_ids(clean_db, indexer.chain_id)
    assert len(after) == len(before) + 2


async def test_confirmed_delivery_never_releases_a_removed_fork(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    depth = 3
    tuning = {
        "reorg_window": WINDOW,
        "order_events_delivery": "confirmed",
        "order_events_confirmations": depth,
    }
    _orders(flow, 2, "0.1")
    flow.mine(depth)
    async with clean_db.acquire() as connection:
        indexer = processor(connection, rpc, flow.deployment, **tuning)
        await indexer.prepare()
        await indexer.sync()
        kept = await _event_ids(clean_db, indexer.chain_id)
        rows = await _outbox(clean_db)
        assert [r["message_id"] for r in rows if not r["held"]] == kept  # deep enough
        snapshot = flow.rpc("evm_snapshot")
        _orders(flow, 2, "0.3")  # shallower than the depth: held
        await indexer.sync()
        orphaned = (await _event_ids(clean_db, indexer.chain_id))[len(kept) :]
        held = [r["message_id"] for r in await _outbox(clean_db) if r["held"]]
        assert held == orphaned
        assert flow.rpc("evm_revert", [snapshot]) is True
        _orders(flow, 3, "0.7")
        await indexer.sync()
        rows = await _outbox(clean_db)
        replacements = (await _event_ids(clean_db, indexer.chain_id))[len(kept) :]
        assert [r["message_id"] for r in rows if r["held"]] == replacements  # 3 deep at most
        flow.mine(1)  # the first replacement's block now has 3 blocks on top of it
        await indexer.sync()
        held = [r["message_id"] for r in await _outbox(clean_db) if r["held"]]
        assert held == replacements[1:]
        flow.mine(depth)
        await indexer.sync()
    rows = await _outbox(clean_db)
    assert not any(r["held"] for r in rows)
    assert [r["message_id"] for r in rows] == kept + replacements
    assert (indexer.messages_released, indexer.retractions) == (2 + 3, 0)
    assert not any(r["routing_key"] == "orders.retracted" for r in rows)
    assert not {r["message_id"] for r in rows} & set(orphaned)


async def test_a_reorg_below_the_confirmed_depth_retracts_what_was_released(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    """Deeper than the confirmation depth (the depth was too small for this chain): released
    messages are retracted, held ones dropped."""
    tuning = {
        "reorg_window": WINDOW,
        "order_events_delivery": "confirmed",
        "order_events_confirmations": 1,
    }
    async with clean_db.acquire() as connection:
        indexer = processor(connection, rpc, flow.deployment, **tuning)
        await indexer.prepare()
        await indexer.sync()
        snapshot = flow.rpc("evm_snapshot")
        _orders(flow, 3, "0.3")
        await indexer.sync()
        orphaned = await _event_ids(clean_db, indexer.chain_id)
        rows = await _outbox(clean_db)
        assert [r["held"] for r in rows] == [False, False, True]
        assert flow.rpc("evm_revert", [snapshot]) is True
        _orders(flow, 4, "0.7")
        await indexer.sync()
    rows = await _outbox(clean_db)
    retracted = [
        r["body"]["retracted_message_id"] for r in rows if r["routing_key"] == "orders.retracted"
    ]
    assert retracted == orphaned[1::-1]
    assert orphaned[2] not in {r["message_id"] for r in rows}  # held: dropped, never announced


async def test_switching_to_instant_releases_what_confirmed_delivery_held(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    _orders(flow, 2, "0.1")
    confirmed = {"order_events_delivery": "confirmed", "order_events_confirmations": 50}
    await index(clean_db, rpc, flow.deployment, **confirmed)
    assert [r["held"] for r in await _outbox(clean_db)] == [True, True]
    _orders(flow, 1, "0.5")
    await index(clean_db, rpc, flow.deployment)  # instant: held ones first, then the new one
    rows = await _outbox(clean_db)
    assert [r["held"] for r in rows] == [False, False, False]
    assert [r["message_id"] for r in rows] == await _event_ids(
        clean_db, rows[0]["body"]["chain_id"]
    )
