"""Reorg guardrails against a node that lags or lies, through the JSON-RPC proxy in front of
Hardhat: a stale head or an older, shorter fork rolls nothing back (orders, order_events and the
checkpoint stay as they were); nor does a rollback below the node's finalized block, nor a deep
one a second provider does not confirm; a real reorg to a longer chain still rolls back and
re-indexes to what a fresh index of the canonical chain holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from contract_driver import LIMIT, ContractDriver
from indexing import clear, dump, index
from rpc_proxy import RpcProxy

from order_system.events.chain import Chain
from order_system.events.guard import ReorgGuard
from order_system.events.processor import Processor
from order_system.events.reorg import ReorgDeferred
from order_system.providers import Providers
from order_system.rpc import JsonRpc, Rpc
from order_system.settings import Tuning

WINDOW = 16


def _orders(flow: ContractDriver, blocks: int, salt: int) -> None:
    """`blocks` blocks with one order each; `salt` varies the amounts (so the blocks differ)."""
    for i in range(blocks):
        amount = Decimal(f"0.{salt:02d}{i + 1}")
        flow.create(
            flow.users[i % 2], "ETH", "USDC", amount, Decimal("1"), Decimal("0"), LIMIT, True
        )


def _processor(
    connection: asyncpg.Connection, rpc: Rpc, flow: ContractDriver, confirm_depth: int = 3
) -> Processor:
    tuning = Tuning(start_block=flow.deployment.block_number, confirmations=0, reorg_window=WINDOW)
    chain = Chain(rpc, flow.deployment.trading, guard=ReorgGuard(confirm_depth=confirm_depth))
    return Processor(connection, chain, tuning, asyncio.Event())


@contextlib.asynccontextmanager
async def _indexed(
    pool: asyncpg.Pool, rpc: Rpc, flow: ContractDriver, confirm_depth: int = 3
) -> AsyncIterator[Processor]:
    async with pool.acquire() as connection:
        indexer = _processor(connection, rpc, flow, confirm_depth)
        await indexer.prepare()
        await indexer.sync()
        yield indexer


async def _blocks(rpc: JsonRpc, first: int, last: int) -> dict[int, dict[str, Any]]:
    """The node's eth_getBlockByNumber answers for blocks first..last, to replay later."""
    return {
        n: await rpc.call("eth_getBlockByNumber", [hex(n), False]) for n in range(first, last + 1)
    }


async def _deferred(indexer: Processor, match: str, times: int = 3) -> None:
    for _ in range(times):
        with pytest.raises(ReorgDeferred, match=match):
            await indexer.step()


async def _equals_fresh_index(pool: asyncpg.Pool, rpc: JsonRpc, flow: ContractDriver) -> None:
    indexed = await dump(pool)
    await clear(pool)
    await index(pool, rpc, flow.deployment, reorg_window=WINDOW)
    assert indexed == await dump(pool)


async def test_a_stale_head_rolls_nothing_back_and_indexing_resumes_when_the_node_catches_up(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, proxy: RpcProxy
) -> None:
    _orders(flow, 6, 1)
    async with JsonRpc(proxy.url) as through, _indexed(clean_db, through, flow) as indexer:
        before, head = await dump(clean_db), flow.w3.eth.block_number
        proxy.serve_view(head - 3)  # the node's own blocks, as a node 3 blocks behind sees them
        _orders(flow, 2, 2)  # the real chain moves on meanwhile
        await _deferred(indexer, "below the indexed block")
        assert await dump(clean_db) == before
        assert (indexer.reorgs, indexer.chain.guard.shorter_chain) == (0, 3)
        proxy.serve_live()
        await indexer.sync()
        assert indexer.reorgs == 0 and indexer.processed == flow.w3.eth.block_number
    await _equals_fresh_index(clean_db, rpc, flow)


async def test_an_older_shorter_fork_rolls_nothing_back(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, proxy: RpcProxy
) -> None:
    _orders(flow, 3, 1)
    fork_point = flow.w3.eth.block_number
    snapshot = flow.rpc("evm_snapshot")
    _orders(flow, 2, 2)  # the older fork, two blocks past the fork point
    older = await _blocks(rpc, fork_point + 1, fork_point + 2)
    assert flow.rpc("evm_revert", [snapshot]) is True
    _orders(flow, 4, 3)  # the canonical chain, longer
    async with JsonRpc(proxy.url) as through, _indexed(clean_db, through, flow) as indexer:
        before = await dump(clean_db)
        proxy.serve_view(fork_point + 2, older)  # other hashes at fork_point+1.., a lower head
        await _deferred(indexer, "below the indexed block")
        assert await dump(clean_db) == before
        assert indexer.reorgs == 0
        proxy.serve_live()
        await indexer.sync()
        assert indexer.reorgs == 0
        assert await dump(clean_db) == before
    await _equals_fresh_index(clean_db, rpc, flow)


async def test_a_real_reorg_to_a_longer_chain_still_rolls_back_through_the_guardrails(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, proxy: RpcProxy
) -> None:
    _orders(flow, 2, 1)
    async with JsonRpc(proxy.url) as through, _indexed(clean_db, through, flow) as indexer:
        snapshot = flow.rpc("evm_snapshot")
        _orders(flow, 5, 2)
        await indexer.sync()
        orphaned = await dump(clean_db)
        assert flow.rpc("evm_revert", [snapshot]) is True
        _orders(flow, 6, 3)
        await indexer.sync()
        assert (indexer.reorgs, indexer.reorged_blocks, indexer.chain.guard.deferred) == (1, 5, 0)
    assert await dump(clean_db) != orphaned
    await _equals_fresh_index(clean_db, rpc, flow)


async def test_hardhat_reports_no_finalized_block_of_its_own(
    flow: ContractDriver, rpc: JsonRpc
) -> None:
    head = flow.w3.eth.block_number
    # Hardhat answers its latest block for "finalized": no finality information.
    assert (await rpc.call("eth_getBlockByNumber", ["finalized", False]))["number"] == hex(head)
    assert await Chain(rpc, flow.deployment.trading).finalized(head) is None


async def test_no_rollback_below_the_nodes_finalized_block(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, proxy: RpcProxy
) -> None:
    _orders(flow, 2, 1)
    async with JsonRpc(proxy.url) as through, _indexed(clean_db, through, flow) as indexer:
        fork_point = flow.w3.eth.block_number
        snapshot = flow.rpc("evm_snapshot")
        _orders(flow, 3, 2)
        await indexer.sync()
        before = await dump(clean_db)
        assert flow.rpc("evm_revert", [snapshot]) is True
        _orders(flow, 4, 3)
        proxy.finalized = fork_point + 1  # the node says a block above the fork point is final
        await _deferred(indexer, "finalized block")
        assert await dump(clean_db) == before
        assert (indexer.reorgs, indexer.chain.guard.below_finalized) == (0, 3)
        proxy.finalized = fork_point  # the fork point itself may stay final
        await indexer.sync()
        assert indexer.reorgs == 1
    await _equals_fresh_index(clean_db, rpc, flow)


@pytest.mark.parametrize("depth", [2, 4], ids=["shallow", "deep"])
async def test_a_deep_rollback_waits_for_a_second_provider_to_confirm_it(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, proxy: RpcProxy, depth: int
) -> None:
    _orders(flow, 2, 1)
    async with (
        RpcProxy(proxy.upstream) as witness,
        Providers([proxy.url, witness.url]) as providers,
        _indexed(clean_db, providers, flow, confirm_depth=3) as indexer,
    ):
        fork_point = flow.w3.eth.block_number
        snapshot = flow.rpc("evm_snapshot")
        _orders(flow, depth, 2)
        await indexer.sync()
        before = await dump(clean_db)
        old_chain = await _blocks(rpc, fork_point + 1, fork_point + depth)
        assert flow.rpc("evm_revert", [snapshot]) is True
        _orders(flow, depth + 1, 3)
        witness.serve_view(
            fork_point + depth, old_chain
        )  # the second provider lags on the old fork
        if depth > 3:
            await _deferred(indexer, "does not confirm")
            assert await dump(clean_db) == before
            assert (indexer.reorgs, indexer.chain.guard.disputed) == (0, 3)
            witness.serve_live()
        await indexer.sync()  # a shallow rollback is not asked to the second provider
        assert (indexer.reorgs, indexer.reorged_blocks) == (1, depth)
        assert providers.current is providers.providers[0]
    await _equals_fresh_index(clean_db, rpc, flow)


def test_a_deferral_counts_until_a_pass_gets_through() -> None:
    guard = ReorgGuard()
    assert guard.deferring(last_step=0.0) is None
    guard.defer("the node lags")
    assert guard.deferring(last_step=guard.deferred_at - 1) == "the node lags"
    assert guard.deferring(last_step=guard.deferred_at + 1) is None
    assert guard.deferred == 1
