"""Faults: a provider refusing large eth_getLogs answers, a node that goes away for a while,
and the processor killed with SIGKILL at random points; each run must end equal to a fresh
full index of the chain."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from contract_driver import LIMIT, ContractDriver, bulk_orders
from indexing import clear, dump, index, processor
from rpc_proxy import RpcProxy

from order_system.events.processor import Processor
from order_system.rpc import JsonRpc


async def _fresh_equals(pool: asyncpg.Pool, rpc: JsonRpc, flow: ContractDriver) -> None:
    indexed = await dump(pool)
    await clear(pool)
    await index(pool, rpc, flow.deployment)
    assert indexed == await dump(pool)


async def _index_through(proxy: RpcProxy, pool: asyncpg.Pool, flow: ContractDriver) -> Processor:
    """The whole chain indexed through the proxy, in ranges of up to 1000 blocks."""
    async with JsonRpc(proxy.url) as through_proxy:
        return await index(pool, through_proxy, flow.deployment, initial_range=1000, max_range=1000)


@pytest.mark.parametrize("suggest_range", [True, False], ids=["suggested", "halved"])
async def test_too_many_results_shrinks_the_range_and_indexing_completes(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, proxy: RpcProxy, suggest_range: bool
) -> None:
    bulk_orders(flow, 200, per_block=20)
    proxy.max_results = 30
    proxy.suggest_range = suggest_range
    indexer = await _index_through(proxy, clean_db, flow)
    assert proxy.refused > 0
    assert indexer.sizer.size < 1000
    assert indexer.events_applied == await clean_db.fetchval("SELECT count(*) FROM order_events")
    assert await clean_db.fetchval("SELECT count(*) FROM orders") == 200
    await _fresh_equals(clean_db, rpc, flow)


async def test_http_429_is_waited_out_for_its_retry_after_and_indexing_completes(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, proxy: RpcProxy
) -> None:
    bulk_orders(flow, 40, per_block=10)
    proxy.limit_requests, proxy.retry_after = 3, 1
    indexer = await _index_through(proxy, clean_db, flow)
    assert len(proxy.limited) == 3 and proxy.limit_requests == 0
    # Each request after a 429 came no sooner than the Retry-After it was told.
    for limited_at in proxy.limited:
        after = min(t for t in proxy.requests if t > limited_at)
        assert after - limited_at >= proxy.retry_after
    assert indexer.sizer.size == 1000
    assert await clean_db.fetchval("SELECT count(*) FROM orders") == 40
    await _fresh_equals(clean_db, rpc, flow)


async def test_rate_limit_exceeded_backs_off_and_is_not_read_as_a_range_too_large(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, proxy: RpcProxy
) -> None:
    bulk_orders(flow, 40, per_block=10)
    proxy.limit_get_logs = 3
    indexer = await _index_through(proxy, clean_db, flow)
    assert len(proxy.limited) == 3 and proxy.limit_get_logs == 0
    # The refused range was asked again whole: only range limits shrink it.
    assert indexer.sizer.size == 1000
    assert len(set(proxy.get_logs_ranges)) == 1, proxy.get_logs_ranges
    assert await clean_db.fetchval("SELECT count(*) FROM orders") == 40
    await _fresh_equals(clean_db, rpc, flow)


@pytest.mark.slow
async def test_node_unreachable_for_30_seconds_recovers_by_itself(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, proxy: RpcProxy
) -> None:
    from order_system.events.service import _index

    async with JsonRpc(proxy.url, timeout=2) as through_proxy, clean_db.acquire() as connection:
        indexer = processor(connection, through_proxy, flow.deployment, poll_interval=0.1)
        task = asyncio.create_task(_index(indexer, through_proxy, indexer.stop))
        flow.create(
            flow.users[0], "ETH", "USDC", Decimal("0.1"), Decimal("1"), Decimal("0"), LIMIT, True
        )
        await _until(lambda: indexer.processed >= flow.w3.eth.block_number, 10)
        await proxy.down()
        flow.create(
            flow.users[1], "ETH", "USDC", Decimal("0.2"), Decimal("1"), Decimal("0"), LIMIT, True
        )
        await asyncio.sleep(30)
        assert not task.done()
        await proxy.up()
        head = flow.w3.eth.block_number
        await _until(lambda: indexer.processed >= head, 15)
        indexer.stop.set()
        await asyncio.wait_for(task, 10)
    assert await clean_db.fetchval("SELECT count(*) FROM orders") == 2
    await _fresh_equals(clean_db, rpc, flow)


async def test_a_node_that_stops_answering_is_reconnected_by_the_watchdog(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, proxy: RpcProxy
) -> None:
    from order_system.events.health import IndexerState
    from order_system.events.service import _index, _watchdog

    async with JsonRpc(proxy.url, timeout=120) as through_proxy, clean_db.acquire() as connection:
        indexer = processor(
            connection, through_proxy, flow.deployment, poll_interval=0.1, watchdog_seconds=1.0
        )
        task = asyncio.create_task(_index(indexer, through_proxy, indexer.stop))
        watchdog = asyncio.create_task(
            _watchdog(IndexerState(processor=indexer), through_proxy, 1.0)
        )
        try:
            await _until(lambda: indexer.processed >= flow.w3.eth.block_number, 10)
            proxy.delay = 3600.0  # requests hang; only the watchdog can unblock the processor
            flow.create(
                flow.users[0],
                "ETH",
                "USDC",
                Decimal("0.4"),
                Decimal("1"),
                Decimal("0"),
                LIMIT,
                True,
            )
            await _until(lambda: indexer.reconnects > 0, 10)
            proxy.delay = 0.0
            head = flow.w3.eth.block_number
            await _until(lambda: indexer.processed >= head, 15)
        finally:
            indexer.stop.set()
            watchdog.cancel()
            await asyncio.wait_for(task, 10)
    assert await clean_db.fetchval("SELECT count(*) FROM orders") == 1


async def _until(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def _checkpoint(pool: asyncpg.Pool) -> int | None:
    value: int | None = await pool.fetchval(
        "SELECT (value->>'block')::int FROM system_state WHERE key = 'order_indexer.checkpoint'"
    )
    return value


async def _until_changed(pool: asyncpg.Pool, before: int | None, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await _checkpoint(pool) != before:
            return
        await asyncio.sleep(0.05)


def _service(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "order_system.events"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
        )


@pytest.mark.slow
async def test_kill_9_at_random_points_then_resume_equals_a_fresh_index(
    flow: ContractDriver,
    clean_db: asyncpg.Pool,
    rpc: JsonRpc,
    proxy: RpcProxy,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    bulk_orders(flow, 300, per_block=2)
    proxy.delay = 0.05  # catch-up spans several seconds, so kills land inside it
    env = {
        **os.environ,
        **service_env,
        "WEB3_PROVIDER": proxy.url,
        "TRADING_ADDRESS": flow.deployment.trading,
        "START_BLOCK": str(flow.deployment.block_number),
        "CONFIRMATIONS": "0",
        "POLL_INTERVAL": "0.05",
        "INITIAL_RANGE": "2",
        "MAX_RANGE": "4",
        "FETCH_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "events.log"
    rng = random.Random(20261121)
    checkpoints: list[int | None] = []
    for round_ in range(22):
        before = await _checkpoint(clean_db)
        service = _service(env, log)
        # Kill at a random moment once it is working (start-up time varies with machine load).
        behind = (before or 0) < flow.w3.eth.block_number
        await _until_changed(clean_db, before, 10 if behind else 1.5)
        await asyncio.sleep(rng.uniform(0, 0.5))
        if round_ >= 14:  # live indexing: new blocks arrive while it runs
            flow.create(
                flow.users[round_ % 3],
                "ETH",
                "USDC",
                Decimal(f"0.{round_ + 1}"),
                Decimal("1"),
                Decimal("0"),
                LIMIT,
                True,
            )
        service.send_signal(signal.SIGKILL)
        await asyncio.to_thread(service.wait)
        checkpoints.append(await _checkpoint(clean_db))
    service = _service(env, log)
    try:
        head = flow.w3.eth.block_number
        deadline = time.monotonic() + 60
        while (checkpoints[-1] or 0) < head and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            checkpoints[-1] = await _checkpoint(clean_db)
        service.send_signal(signal.SIGTERM)
        # Waiting in a thread: the proxy lives on this event loop and must keep answering.
        status = await asyncio.to_thread(service.wait, 30)
        assert status == 0, log.read_text()[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            service.kill()
        service.wait()
    assert len({c for c in checkpoints[:14] if c is not None}) > 3, checkpoints
    assert await clean_db.fetchval("SELECT count(*) FROM orders") == 308
    await _fresh_equals(clean_db, rpc, flow)
