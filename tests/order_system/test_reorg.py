"""Reorganisations on Hardhat: evm_snapshot, blocks the indexer sees, evm_revert, then different
blocks past the old height. After the processor catches up the database must equal a fresh full
index of the canonical chain; a reorg deeper than the window stops it with an alert."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from functools import partial
from typing import Any

import asyncpg
import pytest
from contract_driver import LIMIT, STOP, ContractDriver
from indexing import clear, dump, index, processor

from order_system.events.processor import Processor
from order_system.events.reorg import Halt
from order_system.rpc import JsonRpc

WINDOW = 8


def _orders_in_blocks(flow: ContractDriver, blocks: int, salt: str) -> None:
    """`blocks` blocks, each with one order transaction (amounts vary with `salt`)."""
    alice, bob = flow.users[0], flow.users[1]
    for i in range(blocks):
        if i % 3 == 2 and flow.order_count():
            flow.cancel(alice, flow.order_count()) if _pending(flow, alice) else flow.mine()
        else:
            amount = Decimal(f"0.0{i + 1}{len(salt)}")
            flow.create(
                bob if i % 2 else alice,
                "ETH",
                "USDC",
                amount,
                Decimal("0.9"),
                Decimal("1"),
                LIMIT if i % 2 else STOP,
                i % 2 == 0,
            )


def _pending(flow: ContractDriver, user: str) -> bool:
    order = flow.get_order(flow.order_count())
    return bool(order[1] == user and not order[9])


@contextlib.asynccontextmanager
async def _forkable(
    pool: asyncpg.Pool, rpc: JsonRpc, flow: ContractDriver
) -> AsyncIterator[tuple[Processor, str]]:
    """A processor that has indexed the chain so far, and a snapshot of the chain taken then
    (`evm_revert` to it forks)."""
    async with pool.acquire() as connection:
        indexer = processor(connection, rpc, flow.deployment, reorg_window=WINDOW)
        await indexer.prepare()
        await indexer.sync()
        yield indexer, flow.rpc("evm_snapshot")


async def _equals_fresh_index(pool: asyncpg.Pool, rpc: JsonRpc, flow: ContractDriver) -> None:
    indexed = await dump(pool)
    await clear(pool)
    await index(pool, rpc, flow.deployment, reorg_window=WINDOW)
    assert indexed == await dump(pool)


@pytest.mark.parametrize("depth", [1, 2, 5, WINDOW])
async def test_reorg_up_to_the_window_equals_a_fresh_index(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, depth: int
) -> None:
    _orders_in_blocks(flow, 4, "base")
    async with _forkable(clean_db, rpc, flow) as (indexer, snapshot):
        fork_point = flow.w3.eth.block_number
        _orders_in_blocks(flow, depth, "orphaned")
        await indexer.sync()
        orphaned = await dump(clean_db)
        assert flow.rpc("evm_revert", [snapshot]) is True
        _orders_in_blocks(flow, depth + 1, "canonical!")  # different blocks past the old height
        assert flow.w3.eth.block_number == fork_point + depth + 1
        await indexer.sync()
    assert await dump(clean_db) != orphaned
    await _equals_fresh_index(clean_db, rpc, flow)


async def test_reorg_to_a_chain_of_the_same_height_is_noticed_at_the_tip(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    _orders_in_blocks(flow, 2, "base")
    async with _forkable(clean_db, rpc, flow) as (indexer, snapshot):
        _orders_in_blocks(flow, 2, "orphaned")
        await indexer.sync()
        assert flow.rpc("evm_revert", [snapshot]) is True
        _orders_in_blocks(flow, 2, "other")
        await indexer.sync()
    await _equals_fresh_index(clean_db, rpc, flow)


async def test_a_transaction_re_mined_in_a_later_block_is_indexed_once(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    async with _forkable(clean_db, rpc, flow) as (indexer, snapshot):
        nonce = flow.w3.eth.get_transaction_count(flow.w3.to_checksum_address(flow.users[0]))
        fixed: dict[str, Any] = {
            "nonce": nonce,
            "gas": 500_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
        }
        # The same transaction both times: same sender, nonce and fees.
        same = partial(
            flow.create, flow.users[0], "ETH", "WBTC",
            Decimal("0.25"), Decimal("0.9"), Decimal("0"), STOP, True, **fixed,
        )  # fmt: skip
        order_id, first = same()
        await indexer.sync()
        assert flow.rpc("evm_revert", [snapshot]) is True
        flow.mine()  # an empty block where the transaction was
        again_id, again = same()
        assert (again_id, again["transactionHash"]) == (order_id, first["transactionHash"])
        assert again["blockNumber"] == first["blockNumber"] + 1
        await indexer.sync()
    rows = await clean_db.fetch("SELECT order_id, block_number FROM order_events")
    assert [(r["order_id"], r["block_number"]) for r in rows] == [(order_id, again["blockNumber"])]
    assert await clean_db.fetchval("SELECT count(*) FROM processed_events") == 1
    assert await clean_db.fetchval("SELECT block_number FROM orders") == again["blockNumber"]
    await _equals_fresh_index(clean_db, rpc, flow)


async def test_a_reorg_deeper_than_the_window_halts_and_leaves_the_index_alone(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc
) -> None:
    async with _forkable(clean_db, rpc, flow) as (indexer, snapshot):
        _orders_in_blocks(flow, WINDOW + 2, "orphaned")
        await indexer.sync()
        before = await dump(clean_db)
        assert flow.rpc("evm_revert", [snapshot]) is True
        _orders_in_blocks(flow, WINDOW + 3, "canonical")
        with pytest.raises(Halt, match="reorg deeper than the window"):
            await indexer.sync()
    assert await dump(clean_db) == before
